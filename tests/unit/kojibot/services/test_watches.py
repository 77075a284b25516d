"""Watches: the state file and the watcher's memory change together; the watcher's poll
and bus side are tested in tests/peers/test_alerts_watch.py."""

from __future__ import annotations

import pytest_twisted
from twisted.internet.task import Clock

from kojibot.personal.watcher import Watcher
from kojibot.personal.watches import merge_all
from kojibot.services.identity import Identity
from kojibot.services.watches import Watches
from kojibot.state.store import WatchRecord
from tests.unit.kojibot.services.conftest import heard

OPEN = 1


def found(ref: int) -> WatchRecord:
    """A task as ``Watches.look`` gives it (here without a hub)."""
    watch = WatchRecord("", "", "", None, "task", ref, f"task {ref} (build bash)")
    merge_all(watch, [(ref, None, OPEN)])
    return watch


def watches_of(store, watcher, sender, room):
    incoming = heard(sender=sender, room=room, account="al")
    return Watches(store, watcher, None, Identity(store, None, incoming), room)


@pytest_twisted.ensureDeferred
async def test_add_and_remove_keep_store_and_watcher_in_step(store):
    watcher = Watcher(store, None, on_queued=lambda: None, reactor=Clock())
    here = watches_of(store, watcher, "al_", "#koji")
    assert await here.add(found(40))
    (saved,) = await store.watches()
    assert (saved.identity, saved.asker, saved.room, saved.ref) == ("al", "al_", "#koji", 40)
    assert [w.ref for w in here.current()] == [40] and set(watcher.watches) == {saved.id}
    in_dm = watches_of(store, watcher, "al", None)
    assert not await in_dm.add(found(40))  # already watched: now reported in the DM
    assert [(w.asker, w.room) for w in in_dm.current()] == [("al", None)]
    assert [(w.asker, w.room) for w in await store.watches()] == [("al", None)]
    assert await in_dm.remove(in_dm.current()[0])
    assert await store.watches() == [] and watcher.watches == {} and here.current() == []
    assert watcher.by_key == {}
