"""The services on an SQLite state file of the test's own (no server, no hub)."""

from __future__ import annotations

import pytest

from kojibot.chat.model import Incoming
from kojibot.personal.dmalerts import Alerts as AlertIndex
from kojibot.state.store import Store


@pytest.fixture
def store(tmp_path):
    opened = Store(str(tmp_path / "state.sqlite3"))
    yield opened
    opened.close()


@pytest.fixture
def route(store):
    """Everyone's links and alerts in memory, as the relay's routing reads them."""
    return AlertIndex(store.at_open.people, store.at_open.alerts)


def heard(sender="alice_", room="#koji", account=None, line="") -> Incoming:
    return Incoming("irc", sender, line, room=room, account=account)
