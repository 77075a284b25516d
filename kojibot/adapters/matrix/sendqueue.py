"""Ordered send queues, one per target: the head goes out (or waits) before anything
behind it, so a rate limit or an outage delays a room's messages without reordering them.
Each queue has two lanes: answers to commands go before relayed lines waiting there.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from twisted.internet import defer, task
from twisted.logger import Logger

log = Logger(namespace="kojibot.matrix")

# A cancelled nio call fails with asyncio's CancelledError, a cancelled Deferred with Twisted's.
CANCELLED = (defer.CancelledError, asyncio.CancelledError)

T = TypeVar("T")


class Lanes(Generic[T]):
    """One target's waiting items: the urgent lane first, each lane in order."""

    def __init__(self) -> None:
        self.urgent: deque[T] = deque()
        self.relayed: deque[T] = deque()

    def __len__(self) -> int:
        return len(self.urgent) + len(self.relayed)

    def __iter__(self):
        yield from self.urgent
        yield from self.relayed

    def head(self) -> T:
        return (self.urgent or self.relayed)[0]

    def remove(self, item: T) -> None:
        for lane in (self.urgent, self.relayed):
            for index, waiting in enumerate(lane):
                if waiting is item:
                    del lane[index]
                    return


class SendQueues(Generic[T]):
    """``send(item)`` is one try: it returns None once the item is done with (sent, or
    dropped and logged), seconds to wait when rate limited, or raises to be retried after
    ``retry_policy(failures)`` seconds. ``finished(item)`` is called when it is done."""

    def __init__(self, send: Callable[[T], Awaitable[float | None]], *,
                 finished: Callable[[T], object], when_ready: Callable[[], defer.Deferred],
                 is_ready: Callable[[], bool], retry_policy: Callable[[int], float], clock):
        self.send, self.finished = send, finished
        self.when_ready, self.is_ready = when_ready, is_ready
        self.retry_policy, self.clock = retry_policy, clock
        self.queues: dict[Hashable, Lanes[T]] = {}
        self.workers: dict[Hashable, defer.Deferred] = {}
        self.sending: dict[Hashable, T] = {}  # the item each worker is trying now
        self.active = False

    def __len__(self) -> int:
        return sum(len(queue) for queue in self.queues.values())

    def put(self, key: Hashable, item: T, urgent: bool = False) -> None:
        lanes = self.queues.setdefault(key, Lanes())
        (lanes.urgent if urgent else lanes.relayed).append(item)
        self.kick(key)

    def start(self) -> None:
        self.active = True
        for key in list(self.queues):
            self.kick(key)

    def stop(self) -> None:
        self.active = False
        for worker in list(self.workers.values()):
            worker.cancel()

    def drop(self, key: Hashable) -> list[T]:
        """Take *key*'s waiting items out (the one being sent, if any, finishes its try)."""
        queue = self.queues.get(key)
        if not queue:
            return []
        dropped = [item for item in queue if item is not self.sending.get(key)]
        for item in dropped:
            queue.remove(item)
        return dropped

    def kick(self, key: Hashable) -> None:
        if key in self.workers or not self.active or not self.queues.get(key):
            return
        worker = defer.Deferred.fromCoroutine(self._drain(key))
        self.workers[key] = worker
        worker.addErrback(lambda f: None if f.check(*CANCELLED) else log.failure(
            "sending to {target} failed", f, target=key))
        worker.addBoth(self._ended, key)

    def _ended(self, _, key: Hashable) -> None:
        self.workers.pop(key, None)
        self.sending.pop(key, None)

    async def _drain(self, key: Hashable) -> None:
        queue, failures = self.queues[key], 0
        while queue and self.active:
            if not self.is_ready():
                await self.when_ready()
                continue
            item = self.sending[key] = queue.head()
            try:
                wait = await self.send(item)
            except CANCELLED:
                raise
            except Exception as exc:  # noqa: BLE001 - server away: the head waits its turn
                failures += 1
                if failures == 1:
                    log.warn("sending to {target} failed: {why}; retrying", target=key, why=exc)
                await task.deferLater(self.clock, self.retry_policy(failures))
                continue
            if wait:
                log.info("rate limited: waiting {wait:.1f} s before sending to {target}",
                         wait=wait, target=key)
                await task.deferLater(self.clock, wait)
                continue
            failures = 0
            del self.sending[key]
            queue.remove(item)
            self.finished(item)
        if not queue:
            self.queues.pop(key, None)
