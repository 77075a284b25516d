"""Console chat: each line on standard input is a direct message; replies are printed."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable

from twisted.application.service import Service
from twisted.internet import defer, stdio
from twisted.protocols.basic import LineReceiver

from kojibot import render
from kojibot.chat import Incoming, Reply


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
        self.pending: set[defer.Deferred] = set()

    def startService(self) -> None:
        super().startService()
        stdio.StandardIO(_Lines(self))

    def heard(self, line: str) -> None:
        if not line.strip():
            return
        handled = defer.maybeDeferred(self.receive, Incoming(
            network=self.network, sender=self.user, text=line, bot_name=self.bot_name))
        self.pending.add(handled)
        handled.addBoth(lambda _: self.pending.discard(handled))

    def input_closed(self) -> None:
        """At end of input, finish the answers under way, then tell the owner."""
        if self.on_eof is not None:
            defer.DeferredList(list(self.pending)).addBoth(lambda _: self.on_eof())

    def deliver(self, reply: Reply) -> None:
        self.output.write(render.plain(reply.message) + "\n")
        self.output.flush()
