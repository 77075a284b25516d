"""The bot's state in SQLite: subscriptions, relayed-event keys and the outbox.

One small interface over one file (``[bot] state``). Writes that belong together (an
event's outbox rows and its dedupe key) commit in one transaction.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

SCHEMA = """
CREATE TABLE IF NOT EXISTS subscription (
    id INTEGER PRIMARY KEY,
    network TEXT NOT NULL,
    room TEXT NOT NULL,
    kind TEXT NOT NULL,
    pattern TEXT NOT NULL,
    events TEXT NOT NULL,
    created_by TEXT,
    created REAL NOT NULL,
    UNIQUE (network, room, kind, pattern)
);
CREATE TABLE IF NOT EXISTS relayed_event (
    key TEXT PRIMARY KEY,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    network TEXT NOT NULL,
    target TEXT NOT NULL,
    direct INTEGER NOT NULL,
    summary TEXT NOT NULL,
    message TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_target ON outbox (network, target, id);
"""


@dataclass(frozen=True)
class Subscription:
    network: str
    room: str
    kind: str  # "package", "tag" or "owner"
    pattern: str  # a name or a glob
    events: frozenset[str]
    id: int | None = None
    created_by: str | None = None


@dataclass(frozen=True)
class OutboxEntry:
    """A message to queue: where it goes, a short summary for digests, the message parts."""

    network: str
    target: str
    direct: bool
    summary: str
    message: list


@dataclass(frozen=True)
class OutboxRow:
    id: int
    network: str
    target: str
    direct: bool
    summary: str  # a short form of the event for digest lines
    message: list  # the message parts, as stored (see kojibot.message.to_json)
    created: float


class Store:
    def __init__(self, path: str, clock=time.time):
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = NORMAL")
        self.db.executescript(SCHEMA)
        self.clock = clock

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Everything inside commits together, or not at all."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

    # Subscriptions

    def subscribe(self, sub: Subscription) -> bool:
        """Add or update; False if exactly this subscription existed already."""
        row = self.db.execute(
            "SELECT events FROM subscription WHERE network=? AND room=? AND kind=? AND pattern=?",
            (sub.network, sub.room, sub.kind, sub.pattern)).fetchone()
        events = " ".join(sorted(sub.events))
        if row is not None and row[0] == events:
            return False
        self.db.execute(
            "INSERT INTO subscription (network, room, kind, pattern, events, created_by, created)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (network, room, kind, pattern)"
            " DO UPDATE SET events = excluded.events",
            (sub.network, sub.room, sub.kind, sub.pattern, events, sub.created_by,
             self.clock()))
        return True

    def unsubscribe(self, network: str, room: str, kind: str, pattern: str) -> bool:
        cursor = self.db.execute(
            "DELETE FROM subscription WHERE network=? AND room=? AND kind=? AND pattern=?",
            (network, room, kind, pattern))
        return cursor.rowcount > 0

    def subscriptions(self, network: str | None = None,
                      room: str | None = None) -> list[Subscription]:
        query = "SELECT id, network, room, kind, pattern, events, created_by FROM subscription"
        args: tuple = ()
        if network is not None:
            query += " WHERE network=? AND room=?"
            args = (network, room)
        rows = self.db.execute(query + " ORDER BY kind, pattern", args).fetchall()
        return [Subscription(r[1], r[2], r[3], r[4], frozenset(r[5].split()), r[0], r[6])
                for r in rows]

    # Relayed events and the outbox

    def record_events(self, events: Iterable[tuple[str, list[OutboxEntry]]]) -> int:
        """Queue each event's messages and remember its key, all in one transaction.

        An event whose key was recorded before is skipped whole (a redelivery); returns
        how many events were new.
        """
        now = self.clock()
        new = 0
        with self.transaction() as db:
            for key, entries in events:
                if not db.execute("INSERT OR IGNORE INTO relayed_event (key, at) VALUES (?, ?)",
                                  (key, now)).rowcount:
                    continue
                new += 1
                db.executemany(
                    "INSERT INTO outbox (network, target, direct, summary, message, created)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    [(e.network, e.target, int(e.direct), e.summary, json.dumps(e.message), now)
                     for e in entries])
        return new

    def pending(self, network: str | None = None) -> list[OutboxRow]:
        """Undelivered rows, oldest first (per network if given)."""
        query = ("SELECT id, network, target, direct, summary, message, created FROM outbox")
        args: tuple = ()
        if network is not None:
            query += " WHERE network=?"
            args = (network,)
        rows = self.db.execute(query + " ORDER BY id", args).fetchall()
        return [OutboxRow(r[0], r[1], r[2], bool(r[3]), r[4], json.loads(r[5]), r[6])
                for r in rows]

    def delivered(self, ids: Iterable[int]) -> None:
        self.db.executemany("DELETE FROM outbox WHERE id=?", [(i,) for i in ids])

    def forget_events_before(self, when: float) -> None:
        """Dedupe keys are kept long enough to absorb redeliveries, not forever."""
        self.db.execute("DELETE FROM relayed_event WHERE at < ?", (when,))
