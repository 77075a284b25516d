"""``[irc]`` checked: IRCSettings, and the TLS options they ask for."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from twisted.internet import ssl
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator

_NICK = re.compile(r"[A-Za-z\[\]\\`_^{|}][A-Za-z0-9\[\]\\`_^{|}-]*")
_USERNAME = re.compile(r"[^\s\x00-\x1f@!:]+")
_PEM = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


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
