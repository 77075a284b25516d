"""A buildroot watch keeps its tag in the state (step 5): across a restart, and when asked
again with another tag; watches from before the step have none."""

import shutil
from pathlib import Path

import pytest_twisted

from kojibot.personal.buildroot import buildroot_watch
from kojibot.state.store import Store

RELEASED = Path(__file__).parents[3] / "data" / "state" / "kojibot-0.1.0.sqlite3"
BUILD = {"id": 42, "nvr": "bash-5.2-1.fc41"}


def asked(watch, room="#fedora-devel"):
    watch.network, watch.identity, watch.asker, watch.room = "irc", "alice", "Alice", room
    return watch


@pytest_twisted.ensureDeferred
async def test_a_buildroot_watch_keeps_its_tag_across_a_restart(tmp_path):
    state = str(tmp_path / "state.sqlite3")
    store = Store(state)
    assert await store.add_watch(asked(buildroot_watch(BUILD, "f41-build")))
    assert not await store.add_watch(asked(buildroot_watch(BUILD, "f41-build-side-42"), None))
    store.close()
    reopened = Store(state)
    (watch,) = reopened.at_open.watches
    reopened.close()
    assert (watch.kind, watch.ref, watch.tag, watch.room, watch.label) == (
        "repo", 42, "f41-build-side-42", None, "build bash-5.2-1.fc41")
    assert watch.states == {42: [None, None]}


def test_watches_from_before_the_step_have_no_tag(tmp_path):
    path = tmp_path / "state.sqlite3"
    shutil.copy(RELEASED, path)
    store = Store(str(path))
    store.close()
    assert {(w.kind, w.tag) for w in store.at_open.watches} == {("task", None),
                                                                ("build", None)}
