"""What waits to go out on an IRC connection, in order."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class ReplyQueue(Generic[T]):
    """Replies waiting to go out, in order; each is rendered to wire lines only at its turn,
    so the lines fit the connection (nick, host, channel modes) they are sent on."""

    def __init__(self) -> None:
        self._items: deque[T] = deque()
        self._lines: deque[str] = deque()
        self._current: T | None = None

    def put(self, item: T) -> None:
        self._items.append(item)

    def peek(self, render: Callable[[T], list[str]]) -> str | None:
        while not self._lines and self._items:
            self._finish()
            self._current = self._items.popleft()
            self._lines.extend(render(self._current))
        return self._lines[0] if self._lines else None

    def pop(self) -> None:
        self._lines.popleft()
        if not self._lines:
            self._finish()

    def _finish(self) -> None:
        """The current item's last line is written: tell whoever waits for it."""
        done, self._current = self._current, None
        if done is not None and hasattr(done, "sent"):
            done.sent()

    def __len__(self) -> int:
        return len(self._items) + len(self._lines)
