"""The persisted outbox: queued event lines go to their rooms, paced and coalesced.

Rows stay in the state database until the chat server has them, so lines queued while
a network is down (or the bot is stopped) go out after the reconnect. Each room gets at most
``coalesce`` single lines per ``window`` seconds; beyond that, the rest of the window's
events become one digest line at the window's end. Nothing is dropped. A row that
updates a chat line (a build's end after its start) goes out as an edit of that line where
the network can edit: an edit adds no line to the room, so at a window's end the rows whose
line is posted go out as edits and only the rest make the digest.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Mapping

from twisted.internet import defer
from twisted.logger import Logger

from kojibot.chat.message import from_json
from kojibot.chat.model import Adapter, Line, Reply, Target
from kojibot.state.store import OutboxRow, Store
from kojibot.wording.describe import digest_line
from txkoji.reactors import default_reactor

log = Logger()

IN_FLIGHT = 50  # rows handed to the adapters and not yet written
DIGEST_MAX = 1000  # rows one digest line takes at most; the rest waits for the next window
RETRY = 2.0  # seconds to the next look while replies fill every slot in flight
# Lines written within this many seconds share one look at the outbox: a look counts every
# room's rows, too much to repeat for each of hundreds of lines of a backlog.
AFTER_WRITTEN = 0.05


class OutboxPump:
    def __init__(self, store: Store, adapters: Mapping[str, Adapter], *, coalesce: int = 5,
                 window: float = 10.0, reactor=None, clock: Callable[[], float] = time.time):
        reactor = default_reactor(reactor)
        self.store = store
        self.adapters = adapters
        self.coalesce = coalesce
        self.window = window
        self.reactor = reactor
        self.clock = clock
        self.in_flight: set[int] = set()  # rows handed and not yet deleted: not to read again
        self.unwritten = 0  # rows handed and not yet written (IN_FLIGHT bounds them)
        self.flying: Counter[tuple[str, str]] = Counter()  # rows in flight, per room
        self.recent: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self.held_since: dict[tuple[str, str], float] = {}
        self._waking: set[str] = set()  # networks whose return will wake the pump
        self._call = None
        self.looking = self._again = False  # a look is under way; another is due after it
        self.unforgotten: list[tuple[tuple[str, str], list[int]]] = []  # written, not deleted
        self.forgetting = False  # a delete of written rows is under way
        self.sent = 0  # rows written to chat since start (a digest line writes several)
        self.depth = 0  # rows waiting, as the last look saw them
        self.oldest: dict[str, float] = {}  # per network: when its oldest waiting row was queued
        # Per network: when a row last went out, or its rows last had the excuse of a network
        # not ready; long ago while rows wait on a ready network means the outbox is stuck.
        self.moved: dict[str, float] = {}

    def kick(self, delay: float = 0.0) -> None:
        """Look at the outbox soon (new rows, a network back, a window ending)."""
        if self._call is not None and self._call.active():
            if self._call.getTime() <= self.reactor.seconds() + delay:
                return
            self._call.cancel()
        self._call = self.reactor.callLater(delay, self.pump)

    def stop(self) -> None:
        if self._call is not None and self._call.active():
            self._call.cancel()

    def pump(self) -> None:
        """Look at the outbox now, or right after the look under way (the store answers
        off the reactor thread: a look may take a while, and looks never overlap)."""
        if self.looking:
            self._again = True
            return
        self.looking = True
        looked = defer.Deferred.fromCoroutine(self._look())
        looked.addErrback(self._failed)
        looked.addBoth(self._looked)

    def _failed(self, failure) -> None:
        log.failure("reading the outbox failed; looking again in {delay} s", failure,
                    delay=RETRY)
        self.kick(RETRY)

    def _looked(self, _) -> None:
        self.looking = False
        if self._again:
            self._again = False
            self.kick()

    async def _look(self) -> None:
        """Rows are read only for rooms that may send now, and of those only the first
        ones (the whole held batch is read when its digest is due): a look during a backlog
        of a hundred rooms costs one count, not a hundred reads."""
        now = self.clock()
        targets = await self.store.outbox_targets()
        self.depth = sum(count for count, _ in targets.values())
        self.oldest = {}
        next_look: float | None = None
        for key, (count, oldest) in targets.items():
            network = key[0]
            self.oldest[network] = min(self.oldest.get(network, now), oldest)
            adapter = self.adapters.get(network)
            if adapter is None or not adapter.ready:
                self.moved[network] = now
                if adapter is not None:
                    self._wake_when_ready(network, adapter)
                delay: float | None = None
            elif key in self.held_since and now - self.held_since[key] < self.window:
                delay = self.held_since[key] + self.window - now  # its digest is not due
            elif self.unwritten >= IN_FLIGHT:
                delay = RETRY  # a row written pumps sooner
            else:
                head = self.flying[key] + self.coalesce + 1
                rows = [row for row in await self.store.pending(*key, head)
                        if row.id not in self.in_flight]
                delay = await self._send(adapter, key, rows, now, complete=count <= head) \
                    if rows else None
            if delay is not None:
                next_look = delay if next_look is None else min(next_look, delay)
        if next_look is not None:
            self.kick(next_look)

    def _wake_when_ready(self, network: str, adapter: Adapter) -> None:
        """Look again the moment *network* is back (its rows waited long enough)."""
        if network in self._waking:
            return
        self._waking.add(network)

        def back(_) -> None:
            self._waking.discard(network)
            self.moved[network] = self.clock()  # waiting for a network is not being stuck
            self.kick()

        adapter.when_ready().addCallback(back)

    async def _send(self, adapter: Adapter, key: tuple[str, str], rows: list[OutboxRow],
              now: float, complete: bool = True) -> float | None:
        """Hand what may go now to the adapter; seconds until the next look, if needed.
        *rows* are the room's first rows waiting (all of them if *complete*)."""
        budget = IN_FLIGHT - self.unwritten
        recent = self.recent[key]
        while recent and now - recent[0] >= self.window:
            recent.popleft()
        allowed = max(0, self.coalesce - len(recent)) if key not in self.held_since else 0
        singles = min(allowed, budget, len(rows))
        for row in rows[:singles]:
            self._hand(adapter, key, [row], from_json(row.message))
            recent.append(now)
        held = rows[singles:]
        if not held or singles < allowed:
            return None  # done, or waiting for room in flight (a written row pumps again)
        started = self.held_since.setdefault(key, now)
        if now - started < self.window:
            return started + self.window - now
        del self.held_since[key]
        if not complete:
            held = [row for row in await self.store.pending(*key,
                                                             self.flying[key] + DIGEST_MAX)
                    if row.id not in self.in_flight][:DIGEST_MAX]
        edits, held = await self._edits(key, held, budget - singles)
        for row in edits:
            self._hand(adapter, key, [row], from_json(row.message))
        if held:
            message = from_json(held[0].message) if len(held) == 1 else digest_line(
                [row.summary for row in held])
            self._hand(adapter, key, held, message)
            recent.append(now)
        return None

    async def _edits(self, key: tuple[str, str], rows: list[OutboxRow],
                     budget: int) -> tuple[list[OutboxRow], list[OutboxRow]]:
        """(rows that edit a line posted in the room, the rest): an edit adds no line to
        the room, so it goes out as itself, not in a digest. Edits beyond *budget* wait
        for the next look. Only networks that edit remember posted lines."""
        named = [row.line for row in rows if row.line]
        posted = await self.store.lines_posted(*key, named) if named else set()
        edits = [row for row in rows if row.line in posted]
        return edits[:max(0, budget)], [row for row in rows if row.line not in posted]

    def _hand(self, adapter: Adapter, key: tuple[str, str], rows: list[OutboxRow],
              message) -> None:
        ids = [row.id for row in rows]
        self.in_flight.update(ids)
        self.flying[key] += len(ids)
        self.unwritten += len(ids)

        def written() -> None:
            self.unwritten -= len(ids)
            self.kick(AFTER_WRITTEN)  # the adapter has room for more
            self.sent += len(ids)
            self.depth -= len(ids)
            self.moved[key[0]] = self.clock()
            self.unforgotten.append((key, ids))
            self._forget()

        line = self._line(key, rows[0].line) if len(rows) == 1 and rows[0].line else None
        adapter.deliver(Reply(Target(key[0], key[1], direct=rows[0].direct), message,
                              on_sent=written, txn_id=txn_id(rows), line=line))

    def _forget(self) -> None:
        """Delete the written rows from the outbox: all those written while the last
        delete was under way go in one transaction (a far database's round trips would
        otherwise pace the lines). Rows stay in flight until their delete lands: a look
        reading the outbox meanwhile must not send them again."""
        if self.forgetting or not self.unforgotten:
            return
        self.forgetting = True
        batch, self.unforgotten = self.unforgotten, []
        forgotten = self.store.delivered([(*key, row_id) for key, ids in batch
                                          for row_id in ids])
        forgotten.addErrback(lambda failure: log.failure(
            "forgetting {count} written row(s) failed", failure,
            count=sum(len(ids) for _, ids in batch)))

        def landed(_) -> None:
            self.forgetting = False
            for key, ids in batch:
                self.in_flight.difference_update(ids)
                self.flying[key] -= len(ids)
            self._forget()

        forgotten.addCallback(landed)

    def _line(self, key: tuple[str, str], name: str) -> Line:
        def posted(posted_as: str) -> None:
            self.store.note_line(*key, name, posted_as).addErrback(lambda failure: log.failure(
                "remembering the first message of {line} failed", failure, line=name))

        return Line(name, lambda: self.store.line_posted_as(*key, name), posted)


def txn_id(rows: list[OutboxRow]) -> str:
    """The same name for the same rows on every try and after a restart (row ids never
    repeat; the first row's time tells a state database started afresh from the old)."""
    ids = ",".join(str(row.id) for row in rows)
    digest = hashlib.sha256(f"{ids}@{rows[0].created!r}".encode()).hexdigest()[:12]
    return f"kojibot-{rows[0].id}-{len(rows)}-{digest}"
