"""A token bucket: how an adapter stays under a chat server's flood limit.

Servers such as inspircd let a client send a burst of lines, then hold it to a steady
rate; a client that keeps sending faster is delayed and, once its receive queue fills,
disconnected. Pacing our own output the same way means the server never has to.
The bucket only does arithmetic on a clock it is given, so it needs no reactor.
"""

from __future__ import annotations

import time
from collections.abc import Callable

_EPSILON = 1e-9


class TokenBucket:
    """``burst`` sends are free; after that, one more becomes free every ``1 / rate`` s."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        if rate <= 0:
            raise ValueError(f"rate must be positive, not {rate!r}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, not {burst!r}")
        self.rate = float(rate)
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)  # a clock that steps back must not cost tokens
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)
        self._updated = now

    @property
    def tokens(self) -> float:
        """Sends available right now (fractional while refilling)."""
        self._refill()
        return self._tokens

    def take(self) -> bool:
        """Spend one send if one is available; False means wait ``delay()`` seconds."""
        self._refill()
        if self._tokens >= 1.0 - _EPSILON:  # delay() rounds; its wait must be enough
            self._tokens = max(0.0, self._tokens - 1.0)
            return True
        return False

    def delay(self) -> float:
        """Seconds until ``take()`` will succeed (0 when it would now)."""
        self._refill()
        return max(0.0, (1.0 - self._tokens) / self.rate)
