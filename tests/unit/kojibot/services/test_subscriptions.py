"""Subscriptions: the state file and the relay's index change together."""

from __future__ import annotations

import pytest_twisted

from kojibot.relay.matching import SubscriptionIndex
from kojibot.services.subscriptions import Subscriptions
from tests.unit.kojibot.services.conftest import heard

FAILED = frozenset({"failed"})


@pytest_twisted.ensureDeferred
async def test_add_and_remove_keep_store_and_index_in_step(store):
    index = SubscriptionIndex()
    here = Subscriptions(store, index, heard(room="#koji"))
    assert await here.add("package", "bash", FAILED)
    assert not await here.add("package", "bash", FAILED)
    await Subscriptions(store, index, heard(room="#other")).add("package", "py*", FAILED)
    assert [s.room for s in index.match("package", "bash", "failed")] == ["#koji"]
    assert [(s.room, s.pattern) for s in await store.subscriptions()] == [
        ("#koji", "bash"), ("#other", "py*")]
    assert [s.pattern for s in here.current()] == ["bash"]
    assert await here.remove("package", "bash")
    assert not await here.remove("package", "bash")
    assert index.match("package", "bash", "failed") == []
    assert [s.room for s in await store.subscriptions()] == ["#other"]
    assert here.current() == []


@pytest_twisted.ensureDeferred
async def test_the_index_read_at_start_matches_what_was_written(store, tmp_path):
    await Subscriptions(store, SubscriptionIndex(), heard()).add("tag", "f41", FAILED)
    store.close()
    from kojibot.state.store import Store

    again = Store(str(tmp_path / "state.sqlite3"))
    try:
        index = SubscriptionIndex(again.at_open.subscriptions)
        assert [s.room for s in index.match("tag", "f41", "failed")] == ["#koji"]
    finally:
        again.close()
