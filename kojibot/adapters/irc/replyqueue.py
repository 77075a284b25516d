"""What waits to go out on an IRC connection: answers first, relayed lines after, and what
was written but not yet handled by the server."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class ReplyQueue(Generic[T]):
    """Items waiting to go out, in two lanes: answers to commands (``urgent``) go before
    relayed lines, so a backlog never delays an answer; an item's lines stay together.
    Each item is rendered to wire lines only at its turn, so the lines fit the connection
    (nick, host, channel modes) they are sent on. A written item waits for the server's
    receipt before its ``sent()`` is called; if the connection ends first, it goes back to
    the front of its lane for the next connection."""

    def __init__(self) -> None:
        self._lanes: tuple[deque[T], deque[T]] = (deque(), deque())  # urgent, relayed
        self._lines: deque[str] = deque()
        self._current: tuple[T, bool] | None = None
        self._written: list[tuple[T, bool, int]] = []  # item, urgent, its last line's number

    def put(self, item: T, urgent: bool = False) -> None:
        self._lanes[0 if urgent else 1].append(item)

    def peek(self, render: Callable[[T], list[str]]) -> str | None:
        while not self._lines and (self._lanes[0] or self._lanes[1]):
            urgent = bool(self._lanes[0])
            item = self._lanes[0 if urgent else 1].popleft()
            lines = render(item)
            if lines:
                self._current = item, urgent
                self._lines.extend(lines)
            else:  # nothing to send (the renderer said why): done with
                _sent(item)
        return self._lines[0] if self._lines else None

    def pop(self, number: int) -> None:
        """The line ``peek`` gave is written, as line *number* of its connection."""
        self._lines.popleft()
        if not self._lines and self._current is not None:
            self._written.append((*self._current, number))
            self._current = None

    def confirm(self, done: Callable[[int], bool]) -> None:
        """Call ``sent()`` on each written item whose last line is handled (``done``)."""
        waiting = []
        for entry in self._written:
            if done(entry[2]):
                _sent(entry[0])
            else:
                waiting.append(entry)
        self._written = waiting

    def requeue(self) -> None:
        """The connection ended: what it wrote without a receipt goes out again, first."""
        back = [(item, urgent) for item, urgent, _ in self._written]
        if self._current is not None:
            back.append(self._current)
        for item, urgent in reversed(back):
            self._lanes[0 if urgent else 1].appendleft(item)
        self._written, self._current = [], None
        self._lines.clear()

    @property
    def unconfirmed(self) -> int:
        """Items written whose receipt has not come yet."""
        return len(self._written)

    def __len__(self) -> int:
        return (len(self._lanes[0]) + len(self._lanes[1]) + len(self._written)
                + (self._current is not None))


def _sent(item: object) -> None:
    if hasattr(item, "sent"):
        item.sent()
