"""A scripted IRC user for integration tests, on Twisted (never blocks the reactor).

    user = await IRCUser.connect(port, "alice")
    await user.join("#koji")
    user.say("#koji", "kojibot: task 1")
    heard = await user.wait_for(r"^alice: ", timeout=10)
    await user.quit()

Everything received is kept in ``user.heard`` (raw bytes too, to check line lengths).
``wait_for`` looks at PRIVMSG/NOTICE, ``wait_line`` at any line; each keeps its own
place, so successive waits walk forward through what arrived.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from twisted.internet import defer, protocol, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.protocols.basic import LineReceiver

from kojibot.adapters.irc.lines import Line, parse

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Heard:
    raw: bytes  # without CR LF
    line: Line

    @property
    def command(self) -> str:
        return self.line.command

    @property
    def nick(self) -> str:
        return self.line.nick

    @property
    def target(self) -> str:
        return self.line.params[0] if self.line.params else ""

    @property
    def text(self) -> str:
        return self.line.params[-1] if self.line.params else ""

    @property
    def wire_length(self) -> int:
        """Bytes of this line as relayed, CR LF included, IRCv3 tags excluded (RFC limit 512)."""
        raw = self.raw.split(b" ", 1)[1] if self.raw.startswith(b"@") else self.raw
        return len(raw) + 2


Match = str | re.Pattern | Callable[[Heard], Any]


class IRCUser(LineReceiver):
    delimiter = b"\n"
    MAX_LENGTH = 65536

    def __init__(self, nick: str, caps: tuple[str, ...] = ()):
        self.nick = nick
        self.caps = caps
        self.heard: list[Heard] = []
        self._places = {"messages": 0, "lines": 0}
        self._waiters: list[tuple[str, Callable[[Heard], Any], defer.Deferred]] = []
        self.closed: defer.Deferred[None] = defer.Deferred()

    @classmethod
    async def connect(cls, port: int, nick: str, caps: tuple[str, ...] = (),
                      timeout: float = 10) -> IRCUser:
        """Connect and register; returns once the server has welcomed us (001)."""
        factory = protocol.Factory.forProtocol(lambda: cls(nick, caps))
        user = await TCP4ClientEndpoint(reactor, HOST, port, timeout=timeout).connect(factory)
        await user.wait_line(lambda h: h.command == "001", timeout)
        return user

    def connectionMade(self) -> None:
        if self.caps:
            self.send("CAP REQ :" + " ".join(self.caps))
        self.send(f"NICK {self.nick}")
        self.send(f"USER {self.nick[:10]} 0 * :scripted test user")
        if self.caps:
            self.send("CAP END")

    def connectionLost(self, reason=None) -> None:
        for _, _, waiter in self._waiters:
            waiter.errback(AssertionError(f"{self.nick}: connection lost while waiting "
                                          f"({reason.getErrorMessage() if reason else ''})"))
        self._waiters.clear()
        if not self.closed.called:
            self.closed.callback(None)

    def lineReceived(self, data: bytes) -> None:
        data = data.rstrip(b"\r")
        heard = Heard(data, parse(data.decode("utf-8")))  # strict: a bad split must fail
        self.heard.append(heard)
        if heard.command == "PING":
            self.send(f"PONG :{heard.text}")
        elif heard.command == "433" and not self.welcomed:
            self.nick += "_"
            self.send(f"NICK {self.nick}")
        for waiter in list(self._waiters):
            self._offer(waiter)

    @property
    def welcomed(self) -> bool:
        return any(h.command == "001" for h in self.heard)

    def send(self, line: str) -> None:
        self.transport.write(line.encode("utf-8") + b"\r\n")

    def say(self, target: str, text: str) -> None:
        self.send(f"PRIVMSG {target} :{text}")

    async def join(self, channel: str, timeout: float = 10) -> None:
        """Join and wait for the end of NAMES."""
        self.send(f"JOIN {channel}")
        await self.wait_line(lambda h: h.command == "366" and h.line.params[1] == channel,
                             timeout)

    def messages(self) -> list[Heard]:
        return [h for h in self.heard if h.command in ("PRIVMSG", "NOTICE")]

    def wait_for(self, match: Match, timeout: float = 10) -> defer.Deferred[Heard]:
        """The next PRIVMSG/NOTICE whose text matches a regex, or for which match(h) holds."""
        if isinstance(match, str | re.Pattern):
            pattern = re.compile(match)
            return self._wait("messages", lambda h: pattern.search(h.text), timeout, pattern)
        return self._wait("messages", match, timeout, match)

    def wait_line(self, predicate: Callable[[Heard], Any],
                  timeout: float = 10) -> defer.Deferred[Heard]:
        """The next line of any kind for which predicate(h) holds."""
        return self._wait("lines", predicate, timeout, predicate)

    def _wait(self, place: str, predicate, timeout: float, what) -> defer.Deferred[Heard]:
        waiter: defer.Deferred[Heard] = defer.Deferred()
        entry = (place, predicate, waiter)
        self._waiters.append(entry)
        self._offer(entry)
        if waiter.called:
            return waiter

        def expire() -> None:
            if entry in self._waiters:
                self._waiters.remove(entry)
                recent = b" | ".join(h.raw for h in self.heard[-5:]).decode(errors="replace")
                waiter.errback(AssertionError(
                    f"{self.nick}: nothing matching {what!r} within {timeout} s; "
                    f"last lines: {recent}"))

        timer = reactor.callLater(timeout, expire)
        waiter.addBoth(lambda result: (timer.active() and timer.cancel(), result)[1])
        return waiter

    def _offer(self, entry) -> None:
        place, predicate, waiter = entry
        start = self._places[place]
        for index in range(start, len(self.heard)):
            heard = self.heard[index]
            if place == "messages" and heard.command not in ("PRIVMSG", "NOTICE"):
                continue
            if predicate(heard):
                self._places[place] = index + 1
                self._waiters.remove(entry)
                waiter.callback(heard)
                return

    async def quit(self, message: str = "bye") -> None:
        if self.transport and self.transport.connected:
            self.send(f"QUIT :{message}")
            self.transport.loseConnection()
        await self.closed
