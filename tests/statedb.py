"""The state as tests read and seed it: synchronously, on a connection of the test's own
(the bot's store answers in Deferreds, on its own threads)."""

from __future__ import annotations

from twisted.internet import reactor, task

from kojibot.state.backends import connect
from kojibot.state.migrations import migrate
from kojibot.state.records import OutboxEntry
from kojibot.state.tables import Tables


def tables(location: str) -> Tables:
    """The state at *location*, migrated, queried on this thread."""
    db = connect(location)
    migrate(db)
    return Tables(db)


async def settled(store, *pumps, timeout: float = 10.0) -> None:
    """Wait until nothing is queued on the store's lanes and no outbox look (or watch poll)
    is under way (twice in a row: an answer may queue the next query)."""
    quiet = 0
    for _ in range(int(timeout / 0.005)):
        busy = any(lane.queued for lane in store.lanes.values()) or \
            any(getattr(pump, "looking", False) or getattr(pump, "polling", False)
                for pump in pumps)
        quiet = 0 if busy else quiet + 1
        if quiet >= 2:
            return
        await task.deferLater(reactor, 0.005, lambda: None)
    raise AssertionError(f"the store was still busy after {timeout} s")


async def advance(clock, seconds: float, store, *pumps) -> None:
    """``clock.advance(seconds)``, then wait for what it started (see ``settled``)."""
    clock.advance(seconds)
    await settled(store, *pumps)


async def drained(store, timeout: float) -> None:
    """Wait until the store's outbox is empty (every queued line written)."""
    deadline = reactor.seconds() + timeout
    while await store.pending():
        assert reactor.seconds() < deadline, f"lines still queued after {timeout} s"
        await task.deferLater(reactor, 0.25, lambda: None)


def backlog(store, rows: int, room: str = "#a", start: int = 0, direct: bool = False):
    """Queue *rows* "builds completed" lines for *room*, one event each (pkgN-1-1 from
    *start* on), as the relay queues them."""
    return store.record_events([(f"k{n}", [OutboxEntry("irc", room, direct,
                                                        f"builds completed\tpkg{n}-1-1",
                                                        [f"pkg{n}-1-1 COMPLETE"])])
                                for n in range(start, start + rows)])
