"""Console chat: each line on standard input is a direct message; replies are printed."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable

from twisted.application.service import Service
from twisted.internet import defer, stdio
from twisted.protocols.basic import LineReceiver

from kojibot.chat import render
from kojibot.chat.model import Incoming, Reply


class _Lines(LineReceiver):
    delimiter = b"\n"

    def __init__(self, adapter: ConsoleAdapter):
        self.adapter = adapter

    def lineReceived(self, line: bytes) -> None:
        self.adapter.heard(line.decode("utf-8", "replace").rstrip("\r"))

    def connectionLost(self, reason=None) -> None:
        self.adapter.input_closed()


class ConsoleAdapter(Service):
    """The embedded default chat: you, the terminal, talking to the bot directly."""

    network = "console"

    def __init__(self, receive: Callable[[Incoming], defer.Deferred], bot_name: str,
                 on_eof: Callable[[], object] | None = None, output=None):
        self.receive = receive
        self.bot_name = bot_name
        self.on_eof = on_eof
        self.output = output or sys.stdout
        self.user = getpass.getuser()
        self.last: defer.Deferred = defer.succeed(None)

    def startService(self) -> None:
        super().startService()
        stdio.StandardIO(_Lines(self))

    def heard(self, line: str) -> None:
        """Lines are answered one after another, so answers come in the order asked."""
        if not line.strip():
            return
        incoming = Incoming(network=self.network, sender=self.user, text=line,
                            bot_name=self.bot_name)
        self.last.addBoth(lambda _: self.receive(incoming))

    def input_closed(self) -> None:
        """At end of input, finish the answers under way, then tell the owner."""
        if self.on_eof is not None:
            self.last.addBoth(lambda _: self.on_eof())

    ready = True

    def when_ready(self) -> defer.Deferred[None]:
        return defer.succeed(None)

    def deliver(self, reply: Reply) -> None:
        self.output.write(render.plain(reply.message) + "\n")
        self.output.flush()
        reply.sent()
