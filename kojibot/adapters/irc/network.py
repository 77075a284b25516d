"""IRC: one connection per network, kept up by a ClientService; replies paced under flood limits.

The adapter is a Twisted service. It hands every PRIVMSG it hears to ``receive`` as an
``Incoming`` and sends what the core ``deliver``s: rendered (no colours under +c), split to
fit 512 bytes, queued across reconnects, paced by a token bucket, and sent only once the
server has handled them (echo-message, else a PING after them and its PONG). Settings, parsing,
splitting and bookkeeping live in irc.lines, irc.options, irc.roster and irc.replyqueue;
this file moves bytes.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.application.internet import ClientService, backoffPolicy
from twisted.application.service import Service
from twisted.internet import defer
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.python.failure import Failure

from kojibot.adapters.irc import lines as irclines
from kojibot.adapters.irc.options import tls_options
from kojibot.adapters.irc.protocol import IRCConnection
from kojibot.adapters.irc.replyqueue import ReplyQueue
from kojibot.chat.model import Incoming, Reply
from kojibot.config import IRCSettings
from kojibot.upkeep import Upkeep
from txkoji.reactors import default_reactor

__all__ = ["IRCAdapter", "IRCSettings", "adapter_from_config"]

log = Logger(namespace="kojibot.irc")

SETTLE = 5.0  # seconds a stop waits for the receipts of lines written (ngircd: ~3 lines/s)


class IRCAdapter(Service):
    """The bot on one IRC network: a service to add to the bot's MultiService."""

    def __init__(self, settings: IRCSettings, receive: Callable[[Incoming], object], *,
                 network: str = "irc", reactor=None,
                 retry_policy: Callable[[int], float] | None = None,
                 may_send: Callable[[], bool] = lambda: True):
        """``may_send`` gates replies (not protocol lines): False while this process may
        not speak, e.g. a kojibot whose lead on shared state lapsed."""
        reactor = default_reactor(reactor)
        self.settings, self.network, self.clock = settings, network, reactor
        self.name = f"irc:{network}"
        self.receive, self.may_send = receive, may_send
        self.outbox: ReplyQueue[Reply] = ReplyQueue()
        self.connection: IRCConnection | None = None
        self.retry_policy = retry_policy or backoffPolicy(initialDelay=1.0, maxDelay=300.0)
        self.upkeep = Upkeep()  # lost before sign-on counts as early
        factory = Factory()
        factory.buildProtocol = lambda addr: IRCConnection(self)
        self._client = ClientService(
            _endpoint(settings, reactor), factory, clock=reactor,
            retryPolicy=lambda attempt: self.retry_policy(self.upkeep.attempts(attempt)))

    @property
    def nick(self) -> str | None:
        """The nick we have now (None while not signed on)."""
        conn = self.connection
        return conn.nickname if conn and conn.registered else None

    @property
    def ready(self) -> bool:
        return bool(self.connection and self.connection.ready)

    def when_ready(self) -> defer.Deferred[None]:
        """Fires once signed on and in the configured channels (at once if so now)."""
        return self.upkeep.wait(self.ready)

    def deliver(self, reply: Reply) -> None:
        """Queue *reply*; it goes out paced, in order (answers before relayed lines), after
        any reconnect; ``reply.sent()`` once the server has handled all of it."""
        if reply.target.network != self.network:
            log.error("reply for network {other} handed to IRC network {network}; dropped",
                      other=reply.target.network, network=self.network)
            return
        self.outbox.put(reply, urgent=not reply.relayed)
        if self.connection:
            self.connection.pump()

    def say_now(self, target: str, line: str) -> None:
        """One plain line past the queue and the ``may_send`` gate: the last words of a
        process stepping down (what is queued is no longer its to send)."""
        if self.connection is not None:
            self.connection.sendLine(f"PRIVMSG {target} :{line}")

    def startService(self) -> None:
        super().startService()
        log.info("connecting to {host}:{port} ({tls})", host=self.settings.host,
                 port=self.settings.port, tls="TLS" if self.settings.tls else "plain")
        self._client.startService()

    def stopService(self) -> defer.Deferred[None]:
        if not self.running:
            return defer.succeed(None)
        super().stopService()
        settled = self.connection.settle(SETTLE) if self.connection else defer.succeed(None)
        return settled.addCallback(lambda _: self._quit())

    def _quit(self) -> defer.Deferred[None]:
        if self.connection:
            self.connection.quit_now("kojibot stopping")
        if len(self.outbox):
            log.warn("stopping with {count} queued IRC message(s) not sent", count=len(self.outbox))
        return self._client.stopService()

    def disconnected(self, conn: IRCConnection, reason: Failure) -> None:
        """The connection's hook when it ends: say why (once per cause), reconnect later."""
        if self.connection is conn:
            self.connection = None
        self.outbox.requeue()
        if not self.running:
            return
        why = conn.server_error or irclines.describe_failure(reason, self.settings.host)
        new = self.upkeep.new_error(conn.refused or why)
        if conn.refused:
            self.upkeep.lost()
            if new:
                log.error("not joining on {host}: {why}; trying again later",
                          host=self.settings.host, why=conn.refused)
        elif conn.registered:
            log.warn("disconnected from {host}: {why}; reconnecting", host=self.settings.host,
                     why=why)
        else:
            self.upkeep.lost()
            if new:
                log.error("cannot connect to {host}:{port}: {why}", host=self.settings.host,
                          port=self.settings.port, why=why)

    def heard(self, incoming: Incoming) -> None:
        """The connection's hook for what people say: hand *incoming* to the core; its
        failures are logged, never raised into IRC."""
        defer.maybeDeferred(self.receive, incoming).addErrback(lambda failure: log.failure(
            "handling a message from {sender} failed", failure, sender=incoming.sender))


def adapter_from_config(section: IRCSettings, receive: Callable[[Incoming], object]) -> IRCAdapter:
    """The adapter for the config's ``[irc]`` section."""
    return IRCAdapter(section, receive)


def _endpoint(settings: IRCSettings, reactor):
    endpoint = HostnameEndpoint(reactor, settings.host, settings.port, timeout=30)
    if settings.tls and not settings.tls_verify:
        log.warn("TLS certificate verification is off for {host}", host=settings.host)
    return wrapClientTLS(tls_options(settings), endpoint) if settings.tls else endpoint
