"""Per-person command rate limit: at most N commands in any sliding minute.

People who have been quiet for a whole window are forgotten as the limit is used (one sweep
per window), so memory follows the people active in the last minute, not everyone who ever
spoke.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class RateLimit:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic,
                 window: float = 60.0):
        self.per_minute = per_minute
        self.window = window
        self.clock = clock
        self._times: dict[str, deque[float]] = {}
        self._warned: dict[str, float] = {}
        self._next_sweep = clock() + window

    def allow(self, who: str) -> bool:
        """Record a command by ``who``; False if it is over the limit (not recorded then)."""
        now = self.clock()
        if now >= self._next_sweep:
            self._forget_idle(now)
        times = self._times.setdefault(who, deque())
        while times and now - times[0] >= self.window:
            times.popleft()
        if len(times) >= self.per_minute:
            return False
        times.append(now)
        return True

    def should_warn(self, who: str) -> bool:
        """True once per window for someone over the limit, so they hear about it once."""
        now = self.clock()
        if now - self._warned.get(who, -self.window) < self.window:
            return False
        self._warned[who] = now
        return True

    @property
    def tracked(self) -> int:
        """How many people the limit remembers now."""
        return len(self._times.keys() | self._warned.keys())

    def _forget_idle(self, now: float) -> None:
        self._next_sweep = now + self.window
        for who in [w for w, t in self._times.items() if not t or now - t[-1] >= self.window]:
            del self._times[who]
        for who in [w for w, at in self._warned.items() if now - at >= self.window]:
            del self._warned[who]
