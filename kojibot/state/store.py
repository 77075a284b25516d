"""The bot's state, asked for off the reactor thread: every call returns a Deferred.

The queries (kojibot.state.tables) run on lanes (kojibot.state.lanes), each one thread with
its own connection. SQLite has one lane: one connection, every write in the order asked.
PostgreSQL has a lane per group of tables, so a lock on one table holds up only the queries
on that table's lane; within a lane, writes land in the order asked. The bot reads from its
in-memory indexes (built from ``at_open`` and kept in step by the writes); only a caller
that needs a write done waits for it, and only on its own Deferred.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from twisted.internet import defer
from twisted.python.failure import Failure

from kojibot.state.backends import connect, is_postgresql
from kojibot.state.lanes import Lane
from kojibot.state.migrations import migrate
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
from kojibot.state.tables import Tables

__all__ = ["Alert", "Fence", "LeaseLost", "OutboxEntry", "OutboxRow", "Person", "Snapshot",
           "Store", "Subscription", "Tables", "WatchRecord"]

T = TypeVar("T")
# PostgreSQL's lanes, by the tables their queries touch (SQLite runs all on one)
OUTBOX, OUTCOME, SUBSCRIPTION, PERSON, WATCH = "outbox", "outcome", "subscription", \
    "person", "watch"
LANES = (OUTBOX, OUTCOME, SUBSCRIPTION, PERSON, WATCH)


class Store:
    def __init__(self, location: str, clock: Callable[[], float] = time.time, reactor=None):
        """*location*: an SQLite file, ``:memory:``, or a ``postgresql://`` URL. Opening
        migrates the schema and reads ``at_open`` (it waits: this is start-up)."""
        self.clock = clock
        self.fence: Fence | None = None

        def tables() -> Tables:
            return Tables(connect(location), clock, lambda: self.fence)

        def migrated() -> Tables:
            opened = tables()
            try:
                migrate(opened.db)
            except BaseException:
                opened.db.close()
                raise
            return opened

        names = LANES if is_postgresql(location) else ("state",)
        self.lanes: dict[str, Lane] = {}
        for name in names:
            self.lanes[name] = Lane(name, tables if self.lanes else migrated, _close_tables,
                                    reactor)
        self.at_open: Snapshot = self.lanes[names[0]].call(Tables.snapshot)

    def _run(self, lane: str, query: Callable[..., T], *args: Any) -> defer.Deferred[T]:
        done = self.lanes.get(lane, self.lanes.get("state")).run(query, *args)
        return done.addErrback(self._fenced_off)

    def _fenced_off(self, failure: Failure) -> Failure:
        if failure.check(LeaseLost) and self.fence is not None:
            self.fence.lost(failure.getErrorMessage())
        return failure

    def stalled(self) -> list[tuple[str, float]]:
        """(lane, seconds) of each lane whose query running now has taken that long."""
        now = time.monotonic()
        return [(name, lane.waited(now)) for name, lane in self.lanes.items()
                if lane.waited(now) > 0]

    def close(self) -> None:
        """Finish what was asked and close the connections (waits for them)."""
        for lane in self.lanes.values():
            lane.stop()

    # Subscriptions

    def subscribe(self, sub: Subscription) -> defer.Deferred[bool]:
        """Add or update; False if exactly this subscription existed already."""
        return self._run(SUBSCRIPTION, Tables.subscribe, sub)

    def unsubscribe(self, network: str, room: str, kind: str,
                    pattern: str) -> defer.Deferred[bool]:
        return self._run(SUBSCRIPTION, Tables.unsubscribe, network, room, kind, pattern)

    def subscriptions(self, network: str | None = None,
                      room: str | None = None) -> defer.Deferred[list[Subscription]]:
        return self._run(SUBSCRIPTION, Tables.subscriptions, network, room)

    # Relayed events and the outbox

    def record_events(self, events: Iterable[tuple[str, list[OutboxEntry]]]
                      ) -> defer.Deferred[int]:
        """Queue each event's messages and remember its key, in one transaction; how many
        events were new (a key recorded before skips its event whole)."""
        return self._run(OUTBOX, Tables.record_events, list(events))

    def outbox_targets(self) -> defer.Deferred[dict[tuple[str, str], tuple[int, float]]]:
        return self._run(OUTBOX, Tables.outbox_targets)

    def pending(self, network: str | None = None, target: str | None = None,
                limit: int | None = None) -> defer.Deferred[list[OutboxRow]]:
        return self._run(OUTBOX, Tables.pending, network, target, limit)

    def delivered(self, rows: Iterable[tuple[str, str, int]]) -> defer.Deferred[None]:
        return self._run(OUTBOX, Tables.delivered, list(rows))

    def forget_events_before(self, when: float) -> defer.Deferred[None]:
        return self._run(OUTBOX, Tables.forget_events_before, when)

    def line_posted_as(self, network: str, target: str,
                       line: str) -> defer.Deferred[str | None]:
        """Read on the outbox's lane, so a line noted before is seen (writes land in order)."""
        return self._run(OUTBOX, Tables.line_posted_as, network, target, line)

    def lines_posted(self, network: str, target: str,
                     lines: Iterable[str]) -> defer.Deferred[set[str]]:
        return self._run(OUTBOX, Tables.lines_posted, network, target, sorted(set(lines)))

    def note_line(self, network: str, target: str, line: str,
                  posted_as: str) -> defer.Deferred[None]:
        return self._run(OUTBOX, Tables.note_line, network, target, line, posted_as)

    def forget_lines_before(self, when: float) -> defer.Deferred[None]:
        return self._run(OUTBOX, Tables.forget_lines_before, when)

    def note_outcome(self, package: str, target: str, build_id: int,
                     state: str) -> defer.Deferred[str | None]:
        return self._run(OUTCOME, Tables.note_outcome, package, target, build_id, state)

    # People, alerts and watches

    def person(self, network: str, identity: str) -> defer.Deferred[Person | None]:
        return self._run(PERSON, Tables.person, network, identity)

    def people(self) -> defer.Deferred[list[Person]]:
        return self._run(PERSON, Tables.people)

    def set_contact(self, network: str, identity: str, contact: str) -> defer.Deferred[None]:
        return self._run(PERSON, Tables.set_contact, network, identity, contact)

    def link(self, network: str, identity: str, contact: str, koji_user: str,
             linked_by: str) -> defer.Deferred[None]:
        return self._run(PERSON, Tables.link, network, identity, contact, koji_user,
                         linked_by)

    def set_alert(self, alert: Alert) -> defer.Deferred[None]:
        return self._run(PERSON, Tables.set_alert, alert)

    def remove_alerts(self, network: str, identity: str, kind: str | None = None,
                      pattern: str | None = None) -> defer.Deferred[int]:
        return self._run(PERSON, Tables.remove_alerts, network, identity, kind, pattern)

    def alerts(self, network: str | None = None,
               identity: str | None = None) -> defer.Deferred[list[Alert]]:
        return self._run(PERSON, Tables.alerts, network, identity)

    def add_watch(self, watch: WatchRecord) -> defer.Deferred[bool]:
        """Sets ``watch.id`` (on the lane's thread: read it once this fires)."""
        return self._run(WATCH, Tables.add_watch, watch)

    def save_watch_states(self, watch: WatchRecord) -> defer.Deferred[None]:
        return self._run(WATCH, Tables.save_watch_states, watch.id, json.dumps(watch.states))

    def watches(self, network: str | None = None,
                identity: str | None = None) -> defer.Deferred[list[WatchRecord]]:
        return self._run(WATCH, Tables.watches, network, identity)

    def remove_watch(self, watch_id: int) -> defer.Deferred[bool]:
        return self._run(WATCH, Tables.remove_watch, watch_id)

    def finish_watch(self, watch_id: int, entries: list[OutboxEntry]) -> defer.Deferred[bool]:
        return self._run(WATCH, Tables.finish_watch, watch_id, entries)


def _close_tables(tables: Tables) -> None:
    tables.db.close()
