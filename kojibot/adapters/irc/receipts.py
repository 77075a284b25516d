"""Which of the lines we wrote the IRC server has processed, without I/O.

A line written to the socket is not delivered: a throttling server reads a client slowly
and drops what it had not read when the connection dies. IRC has no receipt for a PRIVMSG,
but two things prove one: with the ``echo-message`` capability the server sends each of our
messages back once it has handled it; without it, a PONG to a PING written after some lines
proves those lines were handled, since a server processes one client's lines in order.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable

PING_TOKEN = "kojibot-"
EVERY = 10  # lines between two PINGs while a backlog drains (a PING costs a line of pacing)
# Lines written and not yet handled, at most. A throttling server (ngircd) still handles
# what it had read after the bot died: a crash repeats at most this many lines. Lines held
# here rather than in the server's buffer also let an answer overtake them.
WINDOW = 10


class Receipts:
    """Numbers the message lines written on one connection and learns which were handled."""

    def __init__(self, echo: bool, fold: Callable[[str], str] = str, every: int = EVERY,
                 window: int = WINDOW):
        self.echo, self.fold, self.every, self.window = echo, fold, every, window
        self.last = 0  # number of the last line written
        self._marked = 0  # the last line a PING was written after
        self._upto = 0  # every line up to this one is handled (a PONG said so)
        self._open: set[int] = set()  # echo-message: written, not yet echoed
        self._targets: dict[str, deque[int]] = defaultdict(deque)

    def wrote(self, line: str) -> int:
        """Number the ``PRIVMSG target :text`` line just written."""
        self.last += 1
        if self.echo:
            self._open.add(self.last)
            self._targets[self.fold(line.split(" ", 2)[1])].append(self.last)
        return self.last

    @property
    def room(self) -> bool:
        """Whether another line may be written before more receipts come."""
        waiting = len(self._open) if self.echo else self.last - self._upto
        return waiting < self.window

    def done(self, number: int) -> bool:
        """Whether line *number* is known to be handled by the server."""
        return number not in self._open if self.echo else number <= self._upto

    def ping_due(self, more: bool) -> bool:
        """Whether a PING should be the next line: lines are waiting for their receipt and
        nothing more can be written now, or ``every`` of them were written since the last."""
        unmarked = self.last - self._marked
        return not self.echo and unmarked > 0 and (not more or unmarked >= self.every)

    def ping(self) -> str:
        return f"PING :{PING_TOKEN}{self.last}"

    def pinged(self) -> None:
        """The line ``ping()`` gave was written."""
        self._marked = self.last

    def ponged(self, token: str) -> bool:
        """A PONG came back; True if it proved lines handled."""
        if not token.startswith(PING_TOKEN) or not token[len(PING_TOKEN):].isdigit():
            return False
        upto = min(int(token[len(PING_TOKEN):]), self.last)
        if upto <= self._upto:
            return False
        self._upto = upto
        return True

    def echoed(self, target: str) -> bool:
        """The server sent back (echo-message) or refused our next line to *target*: it is
        handled either way. True if it was one we wait for."""
        waiting = self._targets.get(self.fold(target))
        if not waiting:
            return False
        self._open.discard(waiting.popleft())
        return True
