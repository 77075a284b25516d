"""The state file across releases on SQLite: a file kojibot 0.1.0 wrote keeps every row."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from kojibot.state.migrations import MIGRATIONS
from kojibot.state.store import Store
from tests import DATA
from tests.statedb import tables

RELEASED = DATA / "state" / "kojibot-0.1.0.sqlite3"


def version(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("PRAGMA user_version").fetchone()[0]


def test_a_state_file_of_0_1_0_keeps_every_row(tmp_path):
    path = tmp_path / "state.sqlite3"
    shutil.copy(RELEASED, path)
    assert version(path) == 0
    for _ in range(2):  # the second open finds nothing to do
        store = Store(str(path))
        store.close()
        read = tables(str(path))
        subs = {(s.network, s.room, s.kind, s.pattern, frozenset(s.events), s.created_by)
                for s in store.at_open.subscriptions}
        assert subs == {
            ("irc", "#fedora-python", "package", "python-*", frozenset({"complete", "failed"}),
             "alice"),
            ("irc", "#fedora-releng", "tag", "f41-updates", frozenset({"tagged"}), "bob"),
            ("matrix", "!room:example.org", "owner", "alice",
             frozenset({"complete", "failed", "started"}), "@alice:example.org")}
        assert {(p.network, p.identity, p.contact, p.koji_user) for p in store.at_open.people} == {
            ("irc", "alice", "Alice", "alice"),
            ("matrix", "@bob:example.org", "@bob:example.org", "bob")}
        assert {(a.network, a.identity, a.kind, a.pattern, frozenset(a.events))
                for a in store.at_open.alerts} == {
            ("irc", "alice", "owner", "", frozenset({"complete", "failed"})),
            ("matrix", "@bob:example.org", "package", "bash", frozenset({"failed"}))}
        watches = {(w.kind, w.ref): w for w in store.at_open.watches}
        assert watches[("task", 123456)].states == {123456: [None, 1], 123457: [123456, 1]}
        assert watches[("task", 123456)].room == "#fedora-python"
        assert watches[("build", 4242)].room is None
        assert [row.summary for row in read.pending()] == ["bash-5.2-1.fc41 complete"]
        read.db.close()
        assert version(path) == len(MIGRATIONS)


def test_a_new_file_gets_the_latest_schema(tmp_path):
    Store(str(tmp_path / "new.sqlite3")).close()
    assert version(tmp_path / "new.sqlite3") == len(MIGRATIONS)
