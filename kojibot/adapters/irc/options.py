"""``[irc]`` checked: IRCSettings, and the TLS options they ask for."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from twisted.internet.interfaces import IOpenSSLClientConnectionCreator

from txkoji import tls

_NICK = re.compile(r"[A-Za-z\[\]\\`_^{|}][A-Za-z0-9\[\]\\`_^{|}-]*")
_USERNAME = re.compile(r"[^\s\x00-\x1f@!:]+")
_CONTROL = re.compile(r"[\x00-\x1f]")


@dataclass(frozen=True)
class IRCSettings:
    """``[irc]`` in the config. Passwords never appear in repr or logs."""

    host: str
    port: int = 6697
    tls: bool = True
    tls_verify: bool = True
    tls_ca: str | None = None  # PEM CA file for networks with a private CA
    tls_cert: str | None = None  # client certificate (PEM): CertFP, and SASL EXTERNAL
    tls_key: str | None = None  # its private key, if not in tls_cert's file
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
    owner: str | None = None  # who runs the bot, said in its realname (WHOIS)
    realname: str = ""  # default: says it is a bot, and the owner's words

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(self.channels))
        if not self.realname:
            object.__setattr__(self, "realname", default_realname(self.owner))
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
        if self.tls_key and not self.tls_cert:
            problems.append("tls_key needs tls_cert")
        if self.tls_cert and not self.tls:
            problems.append("tls_cert needs tls = true")
        if _CONTROL.search(self.realname):
            problems.append("realname has control characters")
        if not 0 < self.ping_interval < self.ping_timeout:
            problems.append("ping_interval must be positive and below ping_timeout")
        for entry in self.channels:
            name = entry.split(" ", 1)[0]
            if name[:1] not in "#&+!" or len(name) < 2 or re.search(r"[,\x07\s]", name):
                problems.append(f"channel {entry!r} is not a channel name")
        if problems:
            raise ValueError("[irc] " + "; ".join(problems))


def default_realname(owner: str | None) -> str:
    """What WHOIS shows: that this is a bot, and who to ask about it."""
    return f"kojibot, a Koji bot run by {owner}" if owner else "kojibot, a Koji build system bot"


def tls_options(settings: IRCSettings) -> IOpenSSLClientConnectionCreator:
    """TLS client options: the system's CAs, or those in ``tls_ca`` (no checks if told so),
    and the client certificate if one is set. ValueError names the key of a bad file."""
    try:
        return tls.client_options(settings.host, ca=settings.tls_ca, cert=settings.tls_cert,
                                  key=settings.tls_key, verify=settings.tls_verify,
                                  names=("tls_ca", "tls_cert", "tls_key"))
    except tls.PEMError as exc:
        raise ValueError(f"[irc] {exc.what} {exc.path}: {exc.problem}") from None
