"""Where store queries run: each lane is one thread with one connection of its own, so a
slow or locked database holds up only the queries queued on that lane, never the reactor.

A lane runs what it is handed in the order handed (its writes land in that order); the
caller gets a Deferred that fires on the reactor thread. ``waited()`` says how long the
query at the head of the lane has been running, for /healthz.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from twisted.internet import defer
from twisted.python.failure import Failure

from txkoji.reactors import default_reactor

T = TypeVar("T")
_STOP = object()


class Lane:
    """One thread and the object it opens there (``open()``: e.g. a connection's tables);
    ``close`` is called on that object when the lane stops."""

    def __init__(self, name: str, open: Callable[[], Any], close: Callable[[Any], object],
                 reactor=None):
        reactor = default_reactor(reactor)
        self.name, self.reactor = name, reactor
        self._open, self._close = open, close
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._started: float | None = None  # when the running query began
        self.queued = 0  # handed and not yet finished
        self._thread = threading.Thread(target=self._work, name=f"kojibot state {name}",
                                        daemon=True)
        opened: Future = Future()
        self._thread.start()
        self._queue.put((opened, None, ()))
        opened.result()  # raises what opening raised

    def run(self, query: Callable[..., T], *args: Any) -> defer.Deferred[T]:
        """``query(opened, *args)`` on the lane's thread, after what was handed before."""
        done: defer.Deferred[T] = defer.Deferred()
        self.queued += 1
        self._queue.put((done, query, args))
        return done

    def call(self, query: Callable[..., T], *args: Any) -> T:
        """The same, waited for on this thread (start-up, before the bot runs)."""
        result: Future = Future()
        self._queue.put((result, query, args))
        return result.result()

    def waited(self, now: float | None = None) -> float:
        """Seconds the query running now has taken (0 if the lane is idle)."""
        started = self._started
        return 0.0 if started is None else (now or time.monotonic()) - started

    def stop(self) -> None:
        """Finish what was handed, close, and end the thread (waits for it)."""
        self._queue.put((None, _STOP, ()))
        self._thread.join()

    def _work(self) -> None:
        opened: Future = self._queue.get()[0]
        try:
            target = self._open()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller of __init__
            opened.set_exception(exc)
            return
        opened.set_result(None)
        while True:
            done, query, args = self._queue.get()
            if query is _STOP:
                self._close(target)
                return
            self._started = time.monotonic()
            try:
                result, failed = query(target, *args), False
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                result, failed = exc, True
            self._started = None
            self._finish(done, result, failed)

    def _finish(self, done, value: Any, failed: bool) -> None:
        if isinstance(done, Future):
            done.set_exception(value) if failed else done.set_result(value)
        else:
            self.reactor.callFromThread(self._fire, done, Failure(value) if failed else value,
                                        failed)

    def _fire(self, done: defer.Deferred, value: Any, failed: bool) -> None:
        self.queued -= 1
        done.errback(value) if failed else done.callback(value)
