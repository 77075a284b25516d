"""Deferreds waiting for a service to become ready (signed on, synced, consuming)."""

from __future__ import annotations

from twisted.internet import defer


class Waiters:
    def __init__(self) -> None:
        self._waiting: list[defer.Deferred[None]] = []

    def wait(self, already: bool) -> defer.Deferred[None]:
        """A Deferred that fires at the next ``fire()``, or at once if ``already``."""
        if already:
            return defer.succeed(None)
        waiter: defer.Deferred[None] = defer.Deferred()
        self._waiting.append(waiter)
        return waiter

    def fire(self) -> None:
        waiting, self._waiting = self._waiting, []
        for waiter in waiting:
            waiter.callback(None)
