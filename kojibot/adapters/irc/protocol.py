"""One IRC connection's life, on Twisted's IRCClient: CAP and SASL, sign-on, bot mode, joins,
who is where, pings, the paced writes of the adapter's reply queue and their receipts.

A SASL login the server refuses (or, with a client certificate, one that never happened)
ends the connection before any join: the adapter logs the reason once and tries again later,
so the bot never sits in its channels unauthenticated."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from twisted.internet import defer, task
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.words.protocols import irc

from kojibot.adapters.irc import lines as irclines
from kojibot.adapters.irc.lines import Line
from kojibot.adapters.irc.login import Login
from kojibot.adapters.irc.pacing import TokenBucket
from kojibot.adapters.irc.receipts import Receipts
from kojibot.adapters.irc.roster import Roster
from kojibot.chat.model import Reply

if TYPE_CHECKING:
    from kojibot.adapters.irc.network import IRCAdapter

log = Logger(namespace="kojibot.irc")

JOIN_ERRORS = {"403", "405", "471", "473", "474", "475", "477", "489", "520"}
SASL_FAILED = {"902", "904", "905", "906"}
REFUSED = {"401", "403", "404", "531"}  # a message the server handled by refusing it
READY_TIMEOUT = 15.0  # flush the queue even if a channel never answers JOIN or MODE
GATED = 1.0  # seconds between looks while the adapter may not send replies
STALE = 120.0  # a message the server got longer ago than this (server-time) is not answered
_UNSAFE = re.compile(r"[\r\n\0]")


class IRCConnection(irc.IRCClient):
    """One connection's life: CAP/SASL, sign-on, joins, bookkeeping, paced writes."""

    heartbeatInterval = None  # noqa: N815 - Twisted's name; _tick also notices a dead server

    def __init__(self, adapter: IRCAdapter):
        self.adapter, self.settings, self.clock = adapter, adapter.settings, adapter.clock
        self.nickname = self.wanted = self.settings.nick
        self.username, self.realname = self.settings.username, self.settings.realname
        self.password = self.settings.password
        self.roster = Roster()
        self.bucket = TokenBucket(self.settings.line_rate, self.settings.burst,
                                  clock=self.clock.seconds)
        self.control: deque[str] = deque()  # protocol lines go before queued replies
        self.receipts = Receipts(echo=False)  # made anew once the caps are known
        self.login = Login(self.settings)
        self.caps = self.login.caps  # the caps the server acknowledged
        self.ready = False
        self.source: str | None = None  # our nick!user@host as others see it
        self.server_error: str | None = None
        self.refused: str | None = None  # why we gave up on this connection before joining
        self.pending: dict[str, str] = {}  # configured channels not yet synced or failed
        self._alternates = 0
        self._pump_call = self._ready_call = None
        self._settled: defer.Deferred[None] | None = None  # stopping: fires at the last receipt
        self._last_heard = self.clock.seconds()
        self._watchdog = task.LoopingCall(self._tick)
        self._watchdog.clock = self.clock

    def connectionMade(self) -> None:
        self.supported = irc.ServerSupportedFeatures()
        self.adapter.connection = self
        _no_delay(self.transport)
        self._watchdog.start(min(self.settings.ping_interval, self.settings.ping_timeout / 3),
                             now=False)
        if self.password:
            self.sendLine(f"PASS {self.password}")
        self.sendLine("CAP LS 302")
        self.setNick(self.nickname)
        self.sendLine(f"USER {self.username} 0 * :{self.realname}")

    def sendLine(self, line: str) -> None:
        self.control.append(line)
        self.pump()

    def pump(self) -> None:
        """Send what the token bucket allows now; come back when it allows more."""
        if (self._pump_call and self._pump_call.active()) or not self.transport:
            return
        while True:
            step = self._next()
            if step is None:
                return
            line, written = step
            if not self.bucket.take():
                self._pump_call = self.clock.callLater(self.bucket.delay(), self.pump)
                return
            written()
            self._write(line)

    def _next(self) -> tuple[str, Callable[[], object]] | None:
        """The next line to write and what to note once it is: protocol lines first, then a
        PING for the receipt of replies written, then the reply queue's next line."""
        if self.control:
            return self.control[0], self.control.popleft
        queue = self.adapter.outbox
        line = queue.peek(self._render) if self.ready and self.receipts.room else None
        gated = line is not None and not self.adapter.may_send()
        if self.receipts.ping_due(more=line is not None and not gated):
            return self.receipts.ping(), self.receipts.pinged
        if gated:
            self._pump_call = self.clock.callLater(GATED, self.pump)
        if line is None or gated:
            return None
        return line, lambda: queue.pop(self.receipts.wrote(line))

    def _write(self, line: str) -> None:
        self.transport.write(_UNSAFE.sub(" ", line).encode("utf-8") + b"\r\n")

    def quit_now(self, message: str) -> None:
        self._write(f"QUIT :{message}")

    def settle(self, timeout: float) -> defer.Deferred[None]:
        """Write no more replies and wait, *timeout* s at most, for the receipts of those
        written: a stop then leaves nothing to repeat after the restart."""
        self.ready = False
        if not self.adapter.outbox.unconfirmed:
            return defer.succeed(None)
        if self.receipts.ping_due(more=False):
            self._write(self.receipts.ping())
            self.receipts.pinged()
        self._settled = defer.Deferred()
        return self._settled.addTimeout(timeout, self.clock).addErrback(
            lambda failure: failure.trap(defer.TimeoutError) and None)

    def _render(self, reply: Reply) -> list[str]:
        source = self.source or irclines.worst_source(self.nickname, self.supported)
        try:
            return irclines.reply_lines(
                reply, self.roster.colours_allowed(reply.target.name), source)
        except ValueError as exc:
            log.error("{why}", why=exc)
            return []

    def lineReceived(self, data: bytes) -> None:
        self._last_heard = self.clock.seconds()
        raw = data.decode("utf-8", "replace")
        try:
            line = irclines.parse(raw)
        except ValueError:
            if raw.strip():
                log.warn("unparsable line from the server: {raw!r}", raw=raw)
            return
        handler = getattr(self, f"_on_{line.command}", None)
        if line.command in JOIN_ERRORS:
            handler = self._join_failed
        elif line.command in SASL_FAILED:
            handler = self._sasl_failed
        try:
            if line.command in REFUSED and len(line.params) > 2:
                self._handled(self.receipts.echoed(line.params[1]))
            self.roster.apply(line, self.nickname, self.caps)
            if handler is not None:
                handler(line)
            else:  # Twisted's IRCClient: PING, 001, 005, MODE parsing, 433, NICK...
                command = irc.numeric_to_symbolic.get(line.command, line.command)
                self.handleCommand(command, line.prefix, list(line.params))
        except Exception:  # noqa: BLE001 - one odd line must not end the connection
            log.failure("error handling {command} from the server", command=line.command)

    def connectionLost(self, reason: Failure) -> None:
        for call in (self._pump_call, self._ready_call):
            if call and call.active():
                call.cancel()
        if self._watchdog.running:
            self._watchdog.stop()
        self._stop_settling()
        self.adapter.disconnected(self, reason)
        super().connectionLost(reason)

    def _tick(self) -> None:
        quiet = self.clock.seconds() - self._last_heard
        if quiet >= self.settings.ping_timeout:
            log.warn("no word from {host} in {quiet:.0f} s; dropping the connection",
                     host=self.settings.host, quiet=quiet)
            self.transport.abortConnection()
            return
        if quiet >= self.settings.ping_interval:
            self.sendLine(f"PING :{int(self.clock.seconds())}")
        self._regain_nick()  # in case its holder left where we could not see it

    @property
    def registered(self) -> bool:
        """Whether the server has welcomed us (we have a nick there)."""
        return self._registered

    def _me(self, nick: str) -> bool:
        return self.roster.fold(nick) == self.roster.fold(self.nickname)

    def _on_CAP(self, line: Line) -> None:
        for answer in self.login.cap(line):
            self.sendLine(answer)

    def _on_AUTHENTICATE(self, line: Line) -> None:
        for answer in self.login.authenticate(line):
            self.sendLine(answer)

    def _on_900(self, line: Line) -> None:
        self.login.account = line.params[2]
        log.info("logged in to services as {account}", account=self.login.account)

    def _on_903(self, line: Line) -> None:
        self.sendLine("CAP END")

    def _sasl_failed(self, line: Line) -> None:
        self._refuse(self.login.failed(line))

    def _refuse(self, why: str) -> None:
        """Leave before joining anything; the adapter says *why* and tries again later."""
        self.refused = why
        self.quit_now("not logged in")
        self.transport.loseConnection()

    def signedOn(self) -> None:
        missing = self.login.missing()
        if missing:
            self._refuse(missing)
            return
        log.info("signed on to {host} as {nick}", host=self.settings.host, nick=self.nickname)
        identify = self.login.identify()
        if identify:
            self.sendLine(identify)
        for entry in self.settings.channels:
            name, _, key = entry.partition(" ")
            self.pending[self.roster.fold(name)] = name
            self.sendLine(f"JOIN {name} {key}".rstrip())
        self._ready_call = self.clock.callLater(READY_TIMEOUT, self._become_ready, True)
        if not self.pending:
            self._become_ready()

    def _become_ready(self, timed_out: bool = False) -> None:
        if self.ready:
            return
        if timed_out:
            log.warn("no answer for {channels} in {t:.0f} s; sending anyway",
                     channels=", ".join(self.pending.values()), t=READY_TIMEOUT)
        elif self._ready_call and self._ready_call.active():
            self._ready_call.cancel()
        self.ready = True
        self.receipts = Receipts(echo="echo-message" in self.caps, fold=self.roster.fold)
        self.adapter.upkeep.up()
        self.pump()

    def _join_failed(self, line: Line) -> None:
        channel = line.params[1] if len(line.params) > 2 else ""
        if self.pending.pop(self.roster.fold(channel), None) is not None:
            log.error("cannot join {channel}: {why}", channel=channel, why=line.params[-1])
            if not self.pending:
                self._become_ready()

    def irc_ERR_NICKNAMEINUSE(self, prefix, params) -> None:
        if self._registered:
            return  # a try to regain our nick; keep the one we have
        self._alternates += 1
        if self._alternates > 10:
            log.error("no free nick found near {nick}; reconnecting later", nick=self.wanted)
            self.transport.loseConnection()
            return
        nick = irclines.alternate_nick(self.wanted, self._alternates)
        log.info("nick {taken} is taken or refused; trying {nick}", taken=self._attemptedNick,
                 nick=nick)
        self.setNick(nick)

    irc_ERR_ERRONEUSNICKNAME = irc_ERR_NICKNAMEINUSE  # noqa: N815 - Twisted's dispatch name

    def _regain_nick(self) -> None:
        if self._registered and not self._me(self.wanted):
            self.setNick(self.wanted)

    def irc_RPL_ISUPPORT(self, prefix, params) -> None:
        had_bot = self.supported.hasFeature("BOT")
        super().irc_RPL_ISUPPORT(prefix, params)
        mode = (self.supported.getFeature("BOT") or ("",))[0]
        if mode and not had_bot:
            self.sendLine(f"MODE {self.nickname} +{mode}")  # IRCv3 bot mode: label us a bot
        self.roster.prefixes = self.supported.getFeature("PREFIX") or self.roster.prefixes
        self.roster.casemapping = (self.supported.getFeature("CASEMAPPING") or ("rfc1459",))[0]

    def _on_JOIN(self, line: Line) -> None:
        if self._me(line.nick):
            self.source = line.prefix
            self.sendLine(f"MODE {line.params[0]}")
            if self.supported.getFeature("WHOX") is not None:
                self.sendLine(f"WHO {line.params[0]} %tna,{irclines.WHOX_TOKEN}")

    def _on_396(self, line: Line) -> None:  # RPL_HOSTHIDDEN: others now see a new host
        if self.source and len(line.params) > 2:
            self.source = f"{self.source.split('@', 1)[0]}@{line.params[1]}"

    def _on_366(self, line: Line) -> None:
        state = self.roster.channel(line.params[1])
        if state and state.synced and self.pending.pop(self.roster.fold(state.name), None):
            log.info("joined {channel}", channel=state.name)
            if not self.pending:
                self._become_ready()

    _on_324 = _on_366  # the channel is synced once both NAMES and MODE answered

    def modeChanged(self, user, channel, set, modes, args) -> None:
        bot = (self.supported.getFeature("BOT") or ("",))[0]
        if self._me(channel) and set and bot and bot in modes:
            log.info("{host} labels us a bot (user mode +{mode})", host=self.settings.host,
                     mode=bot)
        state = self.roster.channel(channel)
        for mode, arg in zip(modes, args, strict=False) if state else ():
            if mode in self.roster.prefixes and arg:
                self.roster.prefix_mode(channel, arg, mode, set)
            else:
                (state.modes.add if set else state.modes.discard)(mode)

    def _on_KICK(self, line: Line) -> None:
        if self._me(line.params[1]):
            log.warn("kicked from {channel} by {by}: {why}", channel=line.params[0],
                     by=line.nick, why=line.params[-1])

    def _on_QUIT(self, line: Line) -> None:
        if self.roster.fold(line.nick) == self.roster.fold(self.wanted):
            self._regain_nick()

    def _on_NICK(self, line: Line) -> None:
        old, new, was_me = line.nick, line.params[0], self._me(line.nick)
        if was_me and self.source:
            self.source = new + self.source[len(old):]
        self.irc_NICK(line.prefix, list(line.params))
        if not was_me:
            self._on_QUIT(line)  # the nick we want may just have come free

    def _on_PRIVMSG(self, line: Line) -> None:
        if "echo-message" in self.caps and self._me(line.nick):
            self._handled(self.receipts.echoed(line.params[0]))
            return
        if line.from_bot:
            return  # bots do not answer bots: no loops between two of them
        said = line.time
        if said is not None and self.clock.seconds() - said > STALE:
            log.info("not answering {nick}: the server got that {age:.0f} s ago", nick=line.nick,
                     age=self.clock.seconds() - said)
            return
        chantypes = "".join(self.supported.getFeature("CHANTYPES") or ("#", "&"))
        incoming = self.roster.incoming(line, self.adapter.network, self.nickname, self.caps,
                                        chantypes)
        if incoming:
            self.adapter.heard(incoming)

    def _on_PONG(self, line: Line) -> None:
        self._handled(self.receipts.ponged(line.params[-1] if line.params else ""))

    def _handled(self, news: bool) -> None:
        """Receipts came: the replies the server now has are sent, and more may go."""
        if news:
            self.adapter.outbox.confirm(self.receipts.done)
            self.pump()
        if not self.adapter.outbox.unconfirmed:
            self._stop_settling()

    def _stop_settling(self) -> None:
        if self._settled is not None and not self._settled.called:
            self._settled.callback(None)

    def _on_404(self, line: Line) -> None:
        log.warn("cannot send to {target}: {why}", target=line.params[1], why=line.params[-1])

    def _on_464(self, line: Line) -> None:
        log.error("{host} refused the server password", host=self.settings.host)

    def _on_ERROR(self, line: Line) -> None:
        self.server_error = line.params[-1] if line.params else None  # said when it closes


def _no_delay(transport) -> None:
    """Send each paced line at once (Nagle would hold it for the server's delayed ACK)."""
    while transport is not None:
        if hasattr(transport, "setTcpNoDelay"):
            transport.setTcpNoDelay(True)
            return
        transport = getattr(transport, "transport", None)  # TLS wraps the TCP transport
