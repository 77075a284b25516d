"""The upkeep of a long-lived connection (IRC, Matrix, the bus), shared by all three:
backoff that also grows on attempts lost before the connection was of use, one log line per
cause of failure rather than one per retry, and Deferreds waiting for it to be ready."""

from __future__ import annotations

from twisted.internet import defer


class Upkeep:
    def __init__(self) -> None:
        self.lost_early = 0  # attempts lost before the connection was of use
        self.last_error: str | None = None
        self._waiting: list[defer.Deferred[None]] = []

    def attempts(self, retries: int) -> int:
        """What a backoff policy should count: its own retries plus the early losses."""
        return retries + self.lost_early

    def lost(self) -> None:
        """An attempt ended before the connection was of use (so the next wait grows)."""
        self.lost_early += 1

    def new_error(self, why: str) -> bool:
        """Whether *why* differs from the last failure's cause (then it deserves a line)."""
        new, self.last_error = why != self.last_error, why
        return new

    def working(self) -> None:
        """The connection does its job again: backoff starts afresh."""
        self.lost_early, self.last_error = 0, None

    def up(self) -> None:
        """The connection is of use now: backoff starts afresh, waiters fire."""
        self.working()
        self.fire()

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
