"""Hub look-ups that must not hold up the relay: each is bounded in time, and after one
fails or times out the next ones are skipped for a while (the line goes without them).
The failed call itself is logged by txkoji (once, at warn); here only the skipping, at info."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from twisted.internet import defer
from twisted.logger import Logger

from txkoji.reactors import default_reactor

log = Logger()

T = TypeVar("T")

PAUSE = 60.0  # seconds look-ups are skipped after the hub failed one


class HubWait:
    def __init__(self, wait: float, reactor: Any = None, pause: float = PAUSE):
        reactor = default_reactor(reactor)
        self.wait = wait
        self.pause = pause
        self.reactor = reactor
        self.skip_until = 0.0

    async def __call__(self, lookup: Callable[[], Awaitable[T]], default: T, what: str) -> T:
        """``await lookup()`` within ``wait`` seconds, else ``default``."""
        if self.reactor.seconds() < self.skip_until:
            return default
        pending = defer.ensureDeferred(lookup())
        pending.addTimeout(self.wait, self.reactor)
        try:
            return await pending
        except Exception as exc:  # noqa: BLE001 - timeout or hub error: go on without it
            self.skip_until = self.reactor.seconds() + self.pause
            log.info("{what}: no answer from the hub ({why}); skipping look-ups for "
                     "{pause:g} s", what=what, why=exc or type(exc).__name__, pause=self.pause)
            return default


class OwnerNames:
    """The acting user's name of a bus event: the event's own, else looked up by id within
    *wait*'s bound, else ``user ID``."""

    def __init__(self, koji: Any, wait: HubWait):
        self.koji, self.wait = koji, wait

    async def __call__(self, event: Any) -> str | None:
        name = getattr(event, "owner", None) or getattr(event, "user", None)
        if name:
            return name
        owner_id = event.build.get("owner_id") if hasattr(event, "build") else \
            getattr(event, "owner_id", None)
        return await self.name_of(owner_id)

    async def name_of(self, user_id: int | None) -> str | None:
        if user_id is None:
            return None
        name = await self.wait(lambda: self.koji.cache.user_name(user_id), None,
                               f"name of user {user_id}")
        return name or f"user {user_id}"
