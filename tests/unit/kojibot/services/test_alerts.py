"""Alerts: the state file, the people the alerts go to, and the alert index change together."""

from __future__ import annotations

import pytest_twisted

from kojibot.services.alerts import Alerts
from kojibot.services.identity import Identity
from tests.unit.kojibot.services.conftest import heard

EVENTS = frozenset({"failed", "complete"})


def alerts_of(store, route, sender):
    return Alerts(store, route, Identity(store, route, heard(sender=sender)))


@pytest_twisted.ensureDeferred
async def test_set_and_remove_keep_store_and_index_in_step(store, route):
    alice = alerts_of(store, route, "alice")
    await alice.set("package", "bash", EVENTS)
    await alice.set("package", "gcc", EVENTS)
    assert route.index.match(None, "bash", "failed") == [("irc", "alice")]
    assert [(a.identity, a.pattern) for a in await store.alerts()] == [
        ("alice", "bash"), ("alice", "gcc")]
    assert [p.contact for p in await store.people()] == ["alice"]  # where the DMs go
    assert [a.pattern for a in alice.current()] == ["bash", "gcc"]
    assert await alice.remove("package", "bash") == 1
    assert route.index.match(None, "bash", "failed") == []
    assert [a.pattern for a in await store.alerts()] == ["gcc"]
    assert await alice.remove() == 1
    assert await store.alerts() == [] and alice.current() == []
    assert route.index.match(None, "gcc", "failed") == []


@pytest_twisted.ensureDeferred
async def test_owner_alerts_follow_the_link(store, route):
    identity = Identity(store, route, heard(sender="alice"))
    alice = Alerts(store, route, identity)
    await alice.set("owner", "", EVENTS)
    assert route.index.match("alice", None, "failed") == []  # not linked yet
    await identity.link("alice")
    assert route.index.match("alice", None, "failed") == [("irc", "alice")]
    assert alerts_of(store, route, "bob").current("alice") == alice.current()
