"""The persisted outbox: queued event lines go to their rooms, paced and coalesced.

Rows stay in SQLite until the adapter has written them, so lines queued while a network
is down (or the bot is stopped) go out after the reconnect. Each room gets at most
``coalesce`` single lines per ``window`` seconds; beyond that, the rest of the window's
events become one digest line at the window's end. Nothing is dropped.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Mapping

from twisted.logger import Logger

from kojibot.chat.message import from_json
from kojibot.chat.model import Adapter, Reply, Target
from kojibot.state.store import OutboxRow, Store
from kojibot.wording.describe import digest_line

log = Logger()

IN_FLIGHT = 50  # replies handed to one adapter and not yet written
DIGEST_MAX = 1000  # rows one digest line takes at most; the rest waits for the next window
RETRY = 2.0  # seconds between looks at networks that are not ready
# Lines written within this many seconds share one look at the outbox: a look reads every
# room's first rows, too much to repeat for each of hundreds of lines of a backlog.
AFTER_WRITTEN = 0.05


class OutboxPump:
    def __init__(self, store: Store, adapters: Mapping[str, Adapter], *, coalesce: int = 5,
                 window: float = 10.0, reactor=None, clock: Callable[[], float] = time.time):
        if reactor is None:
            from twisted.internet import reactor
        self.store = store
        self.adapters = adapters
        self.coalesce = coalesce
        self.window = window
        self.reactor = reactor
        self.clock = clock
        self.in_flight: set[int] = set()
        self.flying: Counter[tuple[str, str]] = Counter()  # rows in flight, per room
        self.recent: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self.held_since: dict[tuple[str, str], float] = {}
        self._call = None
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
        """Per room, only its first rows are read: what may go now, or show that rows are
        held (the whole held batch is read when its digest is due)."""
        now = self.clock()
        targets = self.store.outbox_targets()
        self.depth, self.oldest = sum(targets.values()), {}
        next_look: float | None = None
        for (network, target), count in targets.items():
            head = self.flying[(network, target)] + self.coalesce + 1
            rows = self.store.pending(network, target, head)
            self.oldest[network] = min(self.oldest.get(network, now), rows[0].created)
            adapter = self.adapters.get(network)
            if adapter is None or not adapter.ready:
                self.moved[network] = now
                next_look = RETRY if next_look is None else min(next_look, RETRY)
                continue
            rows = [row for row in rows if row.id not in self.in_flight]
            if not rows:
                continue
            delay = self._send(adapter, (network, target), rows, now, complete=count <= head)
            if delay is not None:
                next_look = delay if next_look is None else min(next_look, delay)
        if next_look is not None:
            self.kick(next_look)

    def _send(self, adapter: Adapter, key: tuple[str, str], rows: list[OutboxRow],
              now: float, complete: bool = True) -> float | None:
        """Hand what may go now to the adapter; seconds until the next look, if needed.
        *rows* are the room's first rows waiting (all of them if *complete*)."""
        budget = IN_FLIGHT - len(self.in_flight)
        if budget <= 0:
            return RETRY
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
            held = [row for row in self.store.pending(*key, self.flying[key] + DIGEST_MAX)
                    if row.id not in self.in_flight][:DIGEST_MAX]
        message = from_json(held[0].message) if len(held) == 1 else digest_line(
            [row.summary for row in held])
        self._hand(adapter, key, held, message)
        recent.append(now)
        return None

    def _hand(self, adapter: Adapter, key: tuple[str, str], rows: list[OutboxRow],
              message) -> None:
        ids = [row.id for row in rows]
        self.in_flight.update(ids)
        self.flying[key] += len(ids)

        def written() -> None:
            self.store.delivered(ids)
            self.sent += len(ids)
            self.depth -= len(ids)
            self.moved[key[0]] = self.clock()
            self.in_flight.difference_update(ids)
            self.flying[key] -= len(ids)
            self.kick(AFTER_WRITTEN)

        adapter.deliver(Reply(Target(key[0], key[1], direct=rows[0].direct), message,
                              on_sent=written))
