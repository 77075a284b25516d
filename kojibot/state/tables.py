"""The store's SQL: subscriptions, relayed-event keys, the outbox, and per person the Koji
identity link, DM alerts and watches, over one SQLite or PostgreSQL connection
(kojibot.state.backends).

Each statement is written once, with ``?`` placeholders (the backend translates them).
Writes that belong together (an event's outbox rows and its dedupe key) commit in one
transaction. With a ``fence`` (the lead's lease, kojibot.state.lease) each transaction
first checks in the database that the lead is still ours, so a bot that lost it writes
nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from kojibot.state.backends import Database
from kojibot.state.records import (
    Alert,
    Fence,
    LeaseLost,
    OutboxEntry,
    OutboxRow,
    Person,
    Snapshot,
    Subscription,
    WatchRecord,
)

VALUES_ASKED = 500  # values named in one query (SQLite takes a bounded number of them)


class Tables:
    """The store's queries on one connection, synchronous: run only on that connection's
    own thread (kojibot.state.lanes), never on the reactor's."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time,
                 fence: Callable[[], Fence | None] = lambda: None):
        """*fence*: the lease writes are fenced by now, if any (it is set after opening)."""
        self.db, self.clock, self.fence = db, clock, fence

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """Everything inside commits together, or not at all (nothing if fenced off).

        The fence takes a shared lock on the lease row: transactions of several
        connections check it at once, and a new lead's term waits for them to end."""
        with self.db.transaction() as db:
            fence = self.fence()
            term = fence.term if fence is not None else None
            if fence is not None:
                row = db.execute("SELECT term FROM lease WHERE name = 'active' FOR SHARE"
                                 ).fetchone()
                if row is None or row[0] != term:
                    raise LeaseLost(f"a write found the lead is no longer term {term}")
            yield db

    def snapshot(self) -> Snapshot:
        """What the in-memory indexes start from."""
        return Snapshot(self.subscriptions(), self.people(), self.alerts(), self.watches())

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
        how many events were new. The keys are looked up and written per batch, not per
        event: each statement is a round trip to a far database.
        """
        events = list(events)
        now = self.clock()
        with self.transaction() as db:
            known = _present(db, "relayed_event", "key", [key for key, _ in events])
            queued: list[OutboxEntry] = []
            new: dict[str, None] = {}
            for key, entries in events:
                if key not in known and key not in new:
                    new[key] = None
                    queued.extend(entries)
            db.executemany("INSERT INTO relayed_event (key, at) VALUES (?, ?)"
                           " ON CONFLICT (key) DO NOTHING", [(key, now) for key in new])
            _queue(db, queued, now)
        return len(new)

    def outbox_targets(self) -> dict[tuple[str, str], tuple[int, float]]:
        """Per (network, target) with undelivered rows: how many, and when the oldest was
        queued."""
        return {(network, target): (count, oldest) for network, target, count, oldest in
                self.db.execute("SELECT network, target, count(*), min(created) FROM outbox"
                                " GROUP BY network, target")}

    def pending(self, network: str | None = None, target: str | None = None,
                limit: int | None = None) -> list[OutboxRow]:
        """Undelivered rows, oldest first (of a network or one target, if given; the first
        *limit* of them if given)."""
        query = "SELECT id, network, target, direct, summary, message, created, line FROM outbox"
        args: tuple = ()
        if network is not None:
            query += " WHERE network=?" + (" AND target=?" if target is not None else "")
            args = (network,) if target is None else (network, target)
        if limit is not None:
            query += f" ORDER BY id LIMIT {int(limit)}"
        else:
            query += " ORDER BY id"
        rows = self.db.execute(query, args).fetchall()
        return [OutboxRow(r[0], r[1], r[2], bool(r[3]), r[4], r[5], r[6], r[7]) for r in rows]

    def delivered(self, rows: Iterable[tuple[str, str, int]]) -> None:
        """Forget written rows, given as (network, target, id): one transaction, not one
        per row (a digest writes hundreds, and each round trip to a far database counts)."""
        with self.transaction() as db:
            db.executemany("DELETE FROM outbox WHERE network=? AND target=? AND id=?",
                           list(rows))

    def forget_events_before(self, when: float) -> None:
        """Dedupe keys are kept long enough to absorb redeliveries, not forever."""
        self.db.execute("DELETE FROM relayed_event WHERE at < ?", (when,))

    def line_posted_as(self, network: str, target: str, line: str) -> str | None:
        """The network's name for the first message of a chat line, once posted."""
        row = self.db.execute("SELECT posted_as FROM chat_line WHERE network=? AND target=?"
                              " AND line=?", (network, target, line)).fetchone()
        return row[0] if row else None

    def lines_posted(self, network: str, target: str, lines: list[str]) -> set[str]:
        """Which of *lines* have their first message posted in *target*."""
        return _present(self.db, "chat_line", "line", lines,
                        "network=? AND target=?", (network, target))

    def note_line(self, network: str, target: str, line: str, posted_as: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO chat_line (network, target, line, posted_as, at)"
                       " VALUES (?, ?, ?, ?, ?) ON CONFLICT (network, target, line)"
                       " DO UPDATE SET posted_as = excluded.posted_as, at = excluded.at",
                       (network, target, line, posted_as, self.clock()))

    def forget_lines_before(self, when: float) -> None:
        """A line is edited while its build runs; one posted long ago is history."""
        self.db.execute("DELETE FROM chat_line WHERE at < ?", (when,))

    def note_outcome(self, package: str, target: str, build_id: int, state: str) -> str | None:
        """Record a build's outcome (COMPLETE, FAILED) for its package and target; the outcome
        of the build before it there, if known (the same answer again for a redelivery;
        None for a build older than the one recorded: news out of order changes nothing)."""
        with self.transaction() as db:
            row = db.execute("SELECT build, state, previous FROM build_outcome"
                             " WHERE package=? AND target=?", (package, target)).fetchone()
            if row is not None and row[0] >= build_id:
                return row[2] if row[0] == build_id else None
            previous = row[1] if row is not None else None
            db.execute("INSERT INTO build_outcome (package, target, build, state, previous,"
                       " updated) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (package, target)"
                       " DO UPDATE SET build=excluded.build, state=excluded.state,"
                       " previous=excluded.previous, updated=excluded.updated",
                       (package, target, build_id, state, previous, self.clock()))
        return previous

    # People, alerts and watches

    def person(self, network: str, identity: str) -> Person | None:
        row = self.db.execute(
            "SELECT network, identity, contact, koji_user, linked_by FROM person"
            " WHERE network=? AND identity=?", (network, identity.lower())).fetchone()
        return Person(*row) if row else None

    def people(self) -> list[Person]:
        rows = self.db.execute(
            "SELECT network, identity, contact, koji_user, linked_by FROM person").fetchall()
        return [Person(*row) for row in rows]

    def set_contact(self, network: str, identity: str, contact: str) -> None:
        """Remember where DMs reach ``identity`` (its link, if any, is kept)."""
        self.db.execute(
            "INSERT INTO person (network, identity, contact, updated) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (network, identity) DO UPDATE SET contact = excluded.contact,"
            " updated = excluded.updated", (network, identity.lower(), contact, self.clock()))

    def link(self, network: str, identity: str, contact: str, koji_user: str,
             linked_by: str) -> None:
        self.db.execute(
            "INSERT INTO person (network, identity, contact, koji_user, linked_by, updated)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (network, identity) DO UPDATE SET"
            " contact = excluded.contact, koji_user = excluded.koji_user,"
            " linked_by = excluded.linked_by, updated = excluded.updated",
            (network, identity.lower(), contact, koji_user, linked_by, self.clock()))

    def set_alert(self, alert: Alert) -> None:
        self.db.execute(
            "INSERT INTO alert (network, identity, kind, pattern, events, created)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (network, identity, kind, pattern)"
            " DO UPDATE SET events = excluded.events",
            (alert.network, alert.identity.lower(), alert.kind, alert.pattern,
             " ".join(sorted(alert.events)), self.clock()))

    def remove_alerts(self, network: str, identity: str, kind: str | None = None,
                      pattern: str | None = None) -> int:
        """Drop a person's alerts (all, or one kind and pattern); how many there were."""
        query, args = "DELETE FROM alert WHERE network=? AND identity=?", [network,
                                                                          identity.lower()]
        if kind is not None:
            query += " AND kind=? AND pattern=?"
            args += [kind, pattern or ""]
        return self.db.execute(query, args).rowcount

    def alerts(self, network: str | None = None, identity: str | None = None) -> list[Alert]:
        query = "SELECT network, identity, kind, pattern, events FROM alert"
        args: tuple = ()
        if network is not None:
            query += " WHERE network=? AND identity=?"
            args = (network, identity.lower())
        rows = self.db.execute(query + " ORDER BY kind, pattern", args).fetchall()
        return [Alert(r[0], r[1], r[2], r[3], frozenset(r[4].split())) for r in rows]

    def add_watch(self, watch: WatchRecord) -> bool:
        """Store a new watch (sets ``watch.id``); False if this person watched it already,
        in which case it now reports where ``watch`` was asked (and a buildroot watch
        follows ``watch``'s tag: one per build and person)."""
        found = self.db.execute(
            "SELECT id, created, tag FROM watch WHERE network=? AND identity=? AND kind=?"
            " AND ref=?", (watch.network, watch.identity, watch.kind, watch.ref)).fetchone()
        if found:
            watch.id, watch.created, tag = found
            self.db.execute("UPDATE watch SET asker=?, room=? WHERE id=?",
                            (watch.asker, watch.room, watch.id))
            if tag != watch.tag:  # what was checked in the other tag says nothing here
                self.db.execute("UPDATE watch SET tag=?, states=? WHERE id=?",
                                (watch.tag, json.dumps(watch.states), watch.id))
            return False
        watch.created = self.clock()
        with self.transaction() as db:  # no RETURNING: SQLite before 3.35 (RHEL 9) lacks it
            db.execute(
                "INSERT INTO watch (network, identity, asker, room, kind, ref, label, states,"
                " created, tag) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (watch.network, watch.identity, watch.asker, watch.room, watch.kind,
                 watch.ref, watch.label, json.dumps(watch.states), watch.created, watch.tag))
            watch.id = db.execute(
                "SELECT id FROM watch WHERE network=? AND identity=? AND kind=? AND ref=?",
                (watch.network, watch.identity, watch.kind, watch.ref)).fetchone()[0]
        return True

    def save_watch_states(self, watch_id: int, states: str) -> None:
        """*states*: as JSON, taken on the reactor thread (the watch changes there)."""
        self.db.execute("UPDATE watch SET states=? WHERE id=?", (states, watch_id))

    def watches(self, network: str | None = None,
                identity: str | None = None) -> list[WatchRecord]:
        query = ("SELECT network, identity, asker, room, kind, ref, label, states, id, created,"
                 " tag FROM watch")
        args: tuple = ()
        if network is not None:
            query += " WHERE network=? AND identity=?"
            args = (network, identity.lower())
        rows = self.db.execute(query + " ORDER BY id", args).fetchall()
        return [WatchRecord(*r[:7], {int(k): v for k, v in json.loads(r[7]).items()}, *r[8:])
                for r in rows]

    def remove_watch(self, watch_id: int) -> bool:
        return self.db.execute("DELETE FROM watch WHERE id=?", (watch_id,)).rowcount > 0

    def finish_watch(self, watch_id: int, entries: list[OutboxEntry]) -> bool:
        """Drop the watch and queue its report together; False (nothing queued) if it was
        finished already, so a watch reports once however many paths reach its end."""
        with self.transaction() as db:
            if not db.execute("DELETE FROM watch WHERE id=?", (watch_id,)).rowcount:
                return False
            _queue(db, entries, self.clock())
        return True


def _present(db: Database, table: str, column: str, values: list[str], where: str = "",
             args: tuple = ()) -> set[str]:
    """Which of *values* are in *table*'s *column* (among the rows *where* picks)."""
    found: set[str] = set()
    for start in range(0, len(values), VALUES_ASKED):
        chunk = values[start:start + VALUES_ASKED]
        marks = ", ".join("?" * len(chunk))
        condition = f"{where} AND " if where else ""
        found.update(row[0] for row in db.execute(
            f"SELECT {column} FROM {table} WHERE {condition}{column} IN ({marks})",
            (*args, *chunk)).fetchall())
    return found


def _queue(db: Database, entries: list[OutboxEntry], now: float) -> None:
    """Inside a transaction: add outbox rows, their ids taken in order from the counter."""
    if not entries:
        return
    db.execute("UPDATE id_counter SET last = last + ? WHERE name = 'outbox'", (len(entries),))
    last = db.execute("SELECT last FROM id_counter WHERE name = 'outbox'").fetchone()[0]
    first = last - len(entries) + 1
    db.executemany(
        "INSERT INTO outbox (network, target, id, direct, summary, message, created, line)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(e.network, e.target, first + n, int(e.direct), e.summary, json.dumps(e.message),
          now, e.line) for n, e in enumerate(entries)])
