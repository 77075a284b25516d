"""The IRC adapter's pure parts: settings, line parsing and splitting, who is where, what
waits to go out. Nothing here touches a socket or the reactor.
"""

from __future__ import annotations

import base64
import random
import re
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from OpenSSL import SSL
from twisted.internet import ssl
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator
from twisted.python.failure import Failure
from twisted.words.protocols.irc import ServerSupportedFeatures

from kojibot.chat import render
from kojibot.chat.model import Incoming, Reply

LINE_LIMIT = 512  # bytes on the wire, CR LF included (RFC 1459/2812; IRCv3 tags excluded)
USERLEN, HOSTLEN = 10, 64  # when the server does not say (the user part may gain a "~")
WHOX_TOKEN = "152"  # marks the answers to our own WHO requests

WANTED_CAPS = ("multi-prefix", "extended-join", "account-tag", "account-notify")
_NICK = re.compile(r"[A-Za-z\[\]\\`_^{|}][A-Za-z0-9\[\]\\`_^{|}-]*")
_USERNAME = re.compile(r"[^\s\x00-\x1f@!:]+")
_PEM = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)
_COLOUR = re.compile(r"\x03(?:\d{1,2}(?:,\d{1,2})?)?")
_TAG_ESCAPES = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}
_RFC1459 = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ[]\\~", "abcdefghijklmnopqrstuvwxyz{}|^")
_ASCII = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True)
class IRCSettings:
    """``[irc]`` in the config. Passwords never appear in repr or logs."""

    host: str
    port: int = 6697
    tls: bool = True
    tls_verify: bool = True
    tls_ca: str | None = None  # PEM CA file for networks with a private CA
    nick: str = "kojibot"
    password: str | None = field(default=None, repr=False)  # server password (PASS)
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    channels: tuple[str, ...] = ()  # "#chan" or "#chan key"
    line_rate: float = 1.0  # lines per second after the burst
    burst: int = 10
    ping_interval: float = 60.0  # PING the server after this long without a word from it
    ping_timeout: float = 180.0  # and give the connection up after this long
    username: str = "kojibot"  # the user (ident) part of nick!user@host
    realname: str = "kojibot, answers about Koji builds"

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(self.channels))
        problems = []
        if not self.host:
            problems.append("host is empty")
        if not 0 < self.port < 65536:
            problems.append(f"port {self.port} is not a TCP port")
        if not _NICK.fullmatch(self.nick):
            problems.append(f"nick {self.nick!r} is not a valid IRC nick")
        if not _USERNAME.fullmatch(self.username):
            problems.append(f"username {self.username!r} is not a valid IRC user name")
        if self.line_rate <= 0 or self.burst < 1:
            problems.append("line_rate must be positive and burst at least 1")
        if not 0 < self.ping_interval < self.ping_timeout:
            problems.append("ping_interval must be positive and below ping_timeout")
        for entry in self.channels:
            name = entry.split(" ", 1)[0]
            if name[:1] not in "#&+!" or len(name) < 2 or re.search(r"[,\x07\s]", name):
                problems.append(f"channel {entry!r} is not a channel name")
        if problems:
            raise ValueError("[irc] " + "; ".join(problems))


@dataclass(frozen=True)
class Line:
    """One line from the server: IRCv3 tags, source prefix, command and parameters."""

    command: str
    params: tuple[str, ...] = ()
    prefix: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def nick(self) -> str:
        return self.prefix.split("!", 1)[0]


def parse(raw: str) -> Line:
    """Parse a line as sent by a server (no CR/LF)."""
    tags: dict[str, str] = {}
    if raw.startswith("@"):
        tag_text, _, raw = raw[1:].partition(" ")
        for item in tag_text.split(";"):
            key, _, value = item.partition("=")
            if key:
                tags[key] = _unescape_tag(value)
    raw = raw.lstrip(" ")
    prefix = ""
    if raw.startswith(":"):
        prefix, _, raw = raw[1:].partition(" ")
    raw, sep, trailing = raw.partition(" :")
    words = raw.split()
    if not words:
        raise ValueError(f"no command in IRC line {raw!r}")
    params = words[1:] + ([trailing] if sep else [])
    return Line(words[0].upper(), tuple(params), prefix, tags)


def _unescape_tag(value: str) -> str:
    return re.sub(r"\\(.?)", lambda m: _TAG_ESCAPES.get(m.group(1), m.group(1)), value)


def casefold(name: str, casemapping: str = "rfc1459") -> str:
    """Nick/channel comparison key under the server's CASEMAPPING."""
    return name.translate(_ASCII if casemapping == "ascii" else _RFC1459)


def text_budget(target: str, source: str) -> int:
    """Bytes left for the text of ``:source PRIVMSG target :text\\r\\n`` in 512."""
    overhead = len(f":{source} PRIVMSG {target} :\r\n".encode())
    return LINE_LIMIT - overhead


def worst_source(nick: str, isupport: ServerSupportedFeatures | None = None) -> str:
    """A stand-in for our ``nick!user@host`` as others see it, before we have seen it:
    as long as the server's USERLEN and HOSTLEN allow."""
    userlen, hostlen = (_feature_int(isupport, "USERLEN", USERLEN),
                        _feature_int(isupport, "HOSTLEN", HOSTLEN))
    return f"{nick}!~{'u' * userlen}@{'h' * hostlen}"


def _feature_int(isupport: ServerSupportedFeatures | None, name: str, default: int) -> int:
    value = isupport.getFeature(name) if isupport else None
    try:
        return int(value[0] if isinstance(value, tuple) else value)
    except (TypeError, ValueError, IndexError):
        return default


def tls_options(settings: IRCSettings) -> IOpenSSLClientConnectionCreator:
    """TLS client options: the system's CAs, or those in ``tls_ca``; no checks if told so."""
    if not settings.tls_verify:
        return ssl.CertificateOptions()
    trust = None
    if settings.tls_ca:
        with open(settings.tls_ca) as pem:
            blocks = _PEM.findall(pem.read())
        if not blocks:
            raise ValueError(f"[irc] tls_ca {settings.tls_ca}: no PEM certificate in it")
        trust = ssl.trustRootFromCertificates(
            [ssl.Certificate.loadPEM(block.encode()) for block in blocks])
    return ssl.optionsForClientTLS(settings.host, trustRoot=trust)


def _atoms(text: str) -> Iterator[str]:
    """Pieces never to cut apart: a colour code, a character with its combining marks."""
    i, n = 0, len(text)
    while i < n:
        colour = _COLOUR.match(text, i)
        if colour:
            yield colour.group()
            i = colour.end()
            continue
        j = i + 1
        while j < n and (unicodedata.combining(text[j]) or text[j] in "\u200d\ufe0e\ufe0f"
                         or text[j - 1] == "\u200d"):
            j += 1
        yield text[i:j]
        i = j


def split_text(text: str, limit: int) -> list[str]:
    """Cut *text* into pieces of at most *limit* UTF-8 bytes, at spaces when sensible.

    A piece never ends inside a character, a colour code or a combining sequence; it
    breaks at the last space when that keeps at least half the room used.
    """
    if limit < 4:
        raise ValueError(f"no room for text in an IRC line (limit {limit})")
    atoms: list[str] = []
    for atom in _atoms(text):
        atoms.extend(atom if len(atom.encode()) > limit else [atom])
    sizes = [len(atom.encode()) for atom in atoms]
    pieces, start = [], 0
    while start < len(atoms):
        end, size, space = start, 0, None
        while end < len(atoms) and size + sizes[end] <= limit:
            if atoms[end] == " " and size >= limit // 2:
                space = end
            size += sizes[end]
            end += 1
        if end < len(atoms) and atoms[end] != " " and space is not None:
            end = space
        piece = "".join(atoms[start:end]).rstrip(" ")
        if piece:
            pieces.append(piece)
        start = end
        while start < len(atoms) and atoms[start] == " ":
            start += 1
    return pieces


def privmsg_lines(target: str, text: str, source: str) -> list[str]:
    """PRIVMSG lines for *text* that stay within 512 bytes as relayed from *source*."""
    return [f"PRIVMSG {target} :{piece}"
            for piece in split_text(text, text_budget(target, source))]


def reply_lines(reply: Reply, colours: bool, source: str) -> list[str]:
    """The wire lines for *reply*: rendered, mention first in a room, split to fit."""
    target = reply.target.name
    if not target or re.search(r"[\s,\0]", target):
        raise ValueError(f"cannot send to {target!r}: not a nick or channel")
    text = render.irc(reply.message, colours=colours or reply.target.direct)
    if reply.mention and not reply.target.direct:
        text = f"{render.clean(reply.mention)}: {text}"
    return privmsg_lines(target, text, source)


def room_of(target: str, chantypes: str, symbols: str) -> str | None:
    """The channel a PRIVMSG went to (``@#chan`` is #chan's ops), or None for a DM."""
    if target[:1] not in chantypes:
        target = target.lstrip(symbols)
    return target if target[:1] in chantypes else None


def alternate_nick(wanted: str, attempt: int) -> str:
    """``kojibot_``, ``kojibot__``, then ``kojibot`` with three random digits."""
    if attempt <= 2:
        return wanted + "_" * attempt
    return f"{wanted[:7]}{random.randrange(1000):03d}"


def cap_request(offered: dict[str, str], sasl: bool) -> str:
    """What to answer a complete CAP LS: the caps we use (sasl if it takes PLAIN), or END."""
    want = [cap for cap in WANTED_CAPS if cap in offered]
    if sasl and "sasl" in offered and "PLAIN" in (offered["sasl"] or "PLAIN").split(","):
        want.append("sasl")
    return "CAP REQ :" + " ".join(want) if want else "CAP END"


def describe_failure(reason: Failure, host: str) -> str:
    """One line saying why a connection ended, with a hint for TLS trouble."""
    if reason.check(SSL.Error):
        errors = [err[-1] for err in (reason.value.args[0] if reason.value.args else [])
                  if isinstance(err, tuple)]
        why = "; ".join(errors) or str(reason.value)
        hint = (" (the server's certificate is not trusted: set tls_ca to the network's CA "
                "file)" if "certificate verify failed" in why else "")
        return f"TLS handshake failed: {why}{hint}"
    if type(reason.value).__name__ == "VerificationError":  # service_identity
        return f"TLS certificate does not match {host}: {reason.value}"
    return reason.getErrorMessage()


def sasl_plain(username: str, password: str) -> list[str]:
    """AUTHENTICATE payloads for SASL PLAIN: base64 in 400-byte chunks, "+" if it ends even."""
    payload = base64.b64encode(f"{username}\0{username}\0{password}".encode()).decode()
    chunks = [payload[i:i + 400] for i in range(0, len(payload), 400)]
    if len(chunks[-1]) == 400:
        chunks.append("+")
    return chunks


def cap_list(text: str) -> dict[str, str]:
    """``"sasl=PLAIN,EXTERNAL echo"`` → ``{"sasl": "PLAIN,EXTERNAL", "echo": ""}``."""
    caps = {}
    for item in text.split():
        name, _, value = item.partition("=")
        caps[name.lstrip("-~=")] = value
    return caps


@dataclass
class Channel:
    name: str
    members: dict[str, set[str]] = field(default_factory=dict)  # folded nick → prefix modes
    modes: set[str] = field(default_factory=set)
    awaiting: set[str] = field(default_factory=lambda: {"NAMES", "MODE"})

    @property
    def synced(self) -> bool:
        """We know who is here (NAMES) and the channel's modes (MODE)."""
        return not self.awaiting


class Roster:
    """Channels we are in, who is in them with which prefix modes, and services accounts."""

    def __init__(self) -> None:
        self.casemapping = "rfc1459"
        self.prefixes: dict[str, tuple[str, int]] = {"o": ("@", 0), "v": ("+", 1)}
        self.channels: dict[str, Channel] = {}
        self.accounts: dict[str, str] = {}

    def apply(self, line: Line, me: str, caps: set[str]) -> None:
        """Follow one server line; *me* is our nick, *caps* the IRCv3 caps in effect."""
        cmd, params, mine = line.command, line.params, self.fold(line.nick) == self.fold(me)
        if cmd == "JOIN":
            if mine:
                self.joined(params[0])
            if "extended-join" in caps and len(params) > 1:
                account: str | None = params[1]
            else:
                account = line.tags.get("account", "*") if "account-tag" in caps else None
            self.add(params[0], line.nick, account)
        elif cmd in ("PART", "KICK"):
            gone = params[1] if cmd == "KICK" else line.nick
            if self.fold(gone) == self.fold(me):
                self.left(params[0])
            else:
                self.remove(params[0], gone)
        elif cmd == "QUIT":
            self.quit(line.nick)
        elif cmd == "NICK":
            self.renamed(line.nick, params[0])
        elif cmd == "ACCOUNT":
            self.set_account(line.nick, params[0])
        elif cmd == "353":
            self.names(params[2], params[-1].split())
        elif cmd == "366":
            self._answered(params[1], "NAMES")
        elif cmd == "324" and self.channel(params[1]):
            modes = params[2].lstrip("+") if len(params) > 2 else ""
            self.channels[self.fold(params[1])].modes = set(modes)
            self._answered(params[1], "MODE")
        elif cmd == "354" and len(params) >= 4 and params[1] == WHOX_TOKEN:
            self.set_account(params[2], params[3])

    def incoming(self, line: Line, network: str, me: str, caps: set[str],
                 chantypes: str) -> Incoming | None:
        """What the core hears from a PRIVMSG (None for CTCP, empty or our own lines)."""
        nick, text = line.nick, line.params[-1] if len(line.params) > 1 else ""
        if not text or text.startswith("\x01") or self.fold(nick) == self.fold(me):
            return None
        room = room_of(line.params[0], chantypes,
                       "".join(symbol for symbol, _ in self.prefixes.values()))
        state = self.channel(room) if room else None
        account = line.tags.get("account") if "account-tag" in caps else self.account(nick)
        return Incoming(network=network, sender=nick, text=render.strip_irc_formatting(text),
                        room=state.name if state else room, account=account,
                        operator=bool(room and self.is_operator(room, nick)), bot_name=me)

    def _answered(self, channel: str, what: str) -> None:
        state = self.channel(channel)
        if state:
            state.awaiting.discard(what)

    def fold(self, name: str) -> str:
        return casefold(name, self.casemapping)

    def channel(self, name: str) -> Channel | None:
        return self.channels.get(self.fold(name))

    def joined(self, channel: str) -> Channel:
        state = self.channels[self.fold(channel)] = Channel(channel)
        return state

    def left(self, channel: str) -> None:
        self.channels.pop(self.fold(channel), None)
        self._forget_strangers()

    def add(self, channel: str, nick: str, account: str | None = None) -> None:
        state = self.channel(channel)
        if state is not None:
            state.members.setdefault(self.fold(nick), set())
        self.set_account(nick, account)

    def names(self, channel: str, entries: Iterable[str]) -> None:
        """Apply one RPL_NAMREPLY: ``@+alice``, ``bob``, ``@carol!c@host`` (userhost-in-names)."""
        state = self.channel(channel)
        if state is None:
            return
        symbols = {symbol: mode for mode, (symbol, _) in self.prefixes.items()}
        for entry in entries:
            modes = set()
            while entry and entry[0] in symbols:
                modes.add(symbols[entry[0]])
                entry = entry[1:]
            if entry:
                state.members[self.fold(entry.split("!", 1)[0])] = modes

    def prefix_mode(self, channel: str, nick: str, mode: str, added: bool) -> None:
        state = self.channel(channel)
        modes = state.members.get(self.fold(nick)) if state else None
        if modes is not None:
            (modes.add if added else modes.discard)(mode)

    def remove(self, channel: str, nick: str) -> None:
        state = self.channel(channel)
        if state:
            state.members.pop(self.fold(nick), None)
        self._forget_strangers()

    def quit(self, nick: str) -> None:
        for state in self.channels.values():
            state.members.pop(self.fold(nick), None)
        self.accounts.pop(self.fold(nick), None)

    def renamed(self, old: str, new: str) -> None:
        old_key, new_key = self.fold(old), self.fold(new)
        for state in self.channels.values():
            if old_key in state.members:
                state.members[new_key] = state.members.pop(old_key)
        if old_key in self.accounts:
            self.accounts[new_key] = self.accounts.pop(old_key)

    def set_account(self, nick: str, account: str | None) -> None:
        """Record an account; ``"*"``/``"0"`` (extended-join, WHOX) mean logged out."""
        if account is None:
            return
        if account in ("*", "0", ""):
            self.accounts.pop(self.fold(nick), None)
        else:
            self.accounts[self.fold(nick)] = account

    def account(self, nick: str) -> str | None:
        return self.accounts.get(self.fold(nick))

    def is_operator(self, channel: str, nick: str) -> bool:
        """+o, or any prefix mode ranked above it (+a, +q), in *channel*."""
        state = self.channel(channel)
        modes = state.members.get(self.fold(nick), set()) if state else set()
        op_rank = self.prefixes.get("o", ("@", 0))[1]
        return any(self.prefixes.get(mode, ("", op_rank + 1))[1] <= op_rank for mode in modes)

    def colours_allowed(self, channel: str) -> bool:
        state = self.channel(channel)
        return not (state and "c" in state.modes)

    def _forget_strangers(self) -> None:
        """Drop accounts of nicks we no longer share a channel with: they may change hands."""
        seen = {nick for state in self.channels.values() for nick in state.members}
        for nick in set(self.accounts) - seen:
            del self.accounts[nick]


T = TypeVar("T")


class Outbox(Generic[T]):
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
