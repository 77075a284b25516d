"""The state across releases where it takes a peer: a newer file refused by the installed
command, PostgreSQL migrated once, the outbox of an older schema drained in order."""

from __future__ import annotations

import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import pytest

from kojibot.state.backends import connect
from kojibot.state.migrations import MIGRATIONS, StateTooNew
from kojibot.state.store import OutboxEntry, Store
from tests.statedb import tables


def test_a_file_from_a_newer_release_is_refused_in_one_line(tmp_path, installed):
    path = tmp_path / "state.sqlite3"
    Store(str(path)).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(StateTooNew) as caught:
        Store(str(path))
    message = (f"the state file has schema version {len(MIGRATIONS) + 1}, newer than this "
               f"kojibot knows ({len(MIGRATIONS)}): run the release that wrote it")
    assert str(caught.value) == message
    (tmp_path / "bot.ini").write_text(f"[bot]\nstate = {path}\n")
    run = installed.run(["--config", str(tmp_path / "bot.ini"), "--console"], tmp_path,
                        stdin="help\n")
    assert run.returncode == 2
    assert run.stderr.strip().splitlines()[-1].endswith(message)
    assert "Traceback" not in run.stderr


def test_a_new_postgresql_database_gets_the_latest_schema_once(postgresql):
    postgresql.empty()
    first, second = Store(postgresql.url), Store(postgresql.url)  # the second finds it done
    assert postgresql.query("SELECT count(*) FROM pg_stat_activity WHERE datname ="
                            " current_database() AND application_name = 'kojibot'") == [
        (2 * len(first.lanes),)]
    assert postgresql.query("SELECT version FROM schema_version") == [(len(MIGRATIONS),)]
    assert postgresql.query(
        "SELECT data_type FROM information_schema.columns WHERE table_name = 'outbox'"
        " AND column_name IN ('id', 'created') ORDER BY column_name") == [
        ("double precision",), ("bigint",)]
    first.close()
    second.close()


def test_kojibots_starting_together_on_an_empty_database_migrate_it_once(postgresql):
    postgresql.empty()
    with ThreadPoolExecutor(4) as pool:
        stores = list(pool.map(lambda _: Store(postgresql.url), range(4)))
    assert postgresql.query("SELECT version FROM schema_version") == [(len(MIGRATIONS),)]
    for store in stores:
        store.close()


def test_a_postgresql_database_from_a_newer_release_is_refused(postgresql):
    postgresql.empty()
    Store(postgresql.url).close()
    postgresql.query(f"UPDATE schema_version SET version = {len(MIGRATIONS) + 1} RETURNING 1")
    with pytest.raises(StateTooNew, match=f"schema version {len(MIGRATIONS) + 1}, newer"):
        Store(postgresql.url)


def test_lines_queued_before_the_room_ordered_outbox_go_first_and_once(state):
    """Step 4 moves queued rows into the outbox clustered by room: each keeps its id, and
    rows queued after the upgrade take ids after them."""
    db = connect(state)
    for number, step in enumerate(MIGRATIONS[:3], start=1):
        with db.transaction():
            db.apply_step(number, step)
    db.executemany("INSERT INTO outbox (network, target, direct, summary, message, created)"
                   " VALUES (?, ?, ?, ?, ?, ?)",
                   [("irc", room, 0, f"builds completed\t{nvr}", json.dumps([nvr]), 1.0)
                    for room, nvr in (("#b", "old-1"), ("#a", "old-2"), ("#b", "old-3"))])
    db.close()
    Store(state).close()
    store = tables(state)
    store.record_events([("new", [OutboxEntry("irc", "#b", False, "builds completed\tnew-1",
                                              ["new-1"])])])
    assert [(row.target, row.message) for row in store.pending()] == [
        ("#b", ["old-1"]), ("#a", ["old-2"]), ("#b", ["old-3"]), ("#b", ["new-1"])]
    first_of_b = store.pending("irc", "#b", 2)
    store.delivered([("irc", "#b", row.id) for row in first_of_b])
    assert [row.message for row in store.pending()] == [["old-2"], ["new-1"]]
    store.db.close()
