"""``[irc]``: IRCSettings, as the IRC adapter takes it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from kojibot.config.fields import REQUIRED, Section, port, positive, setting, words, yes_no

_NICK = re.compile(r"[A-Za-z\[\]\\`_^{|}][A-Za-z0-9\[\]\\`_^{|}-]*")
_USERNAME = re.compile(r"[^\s\x00-\x1f@!:]+")
_CONTROL = re.compile(r"[\x00-\x1f]")


@dataclass(frozen=True)
class IRCSettings(Section):
    """``[irc]`` in the config. Passwords never appear in repr or logs."""

    NAME = "irc"
    # Keys that, when not set, take another section's value (and problems then name it).
    INHERITS = {"nick": ("bot", "nick")}
    host: str = setting(REQUIRED, str, "the IRC server")
    port: int = setting(None, port, "the server's port (default: 6697 with tls, 6667 without)")
    tls: bool = setting(True, yes_no, "connect with TLS")
    tls_verify: bool = setting(True, yes_no, "verify the server's TLS certificate")
    tls_ca: str | None = setting(None, str, "PEM CA file for networks with a private CA")
    tls_cert: str | None = setting(None, str, "client certificate (PEM): CertFP, and SASL "
                                   "EXTERNAL instead of PLAIN")
    tls_key: str | None = setting(None, str, "its private key, if not in tls_cert's file")
    nick: str = setting(None, str, "nick on this network (default: bot.nick)")
    password: str | None = setting(None, str, "server password (PASS)", secret=True)
    sasl_username: str | None = setting(None, str, "SASL PLAIN account")
    sasl_password: str | None = setting(None, str, "SASL PLAIN password", secret=True)
    channels: tuple[str, ...] = setting((), words, 'channels to join: "#chan" or "#chan key"')
    line_rate: float = setting(1.0, positive(float), "lines per second after the burst")
    burst: int = setting(10, positive(int), "lines sent at once before pacing starts")
    ping_interval: float = setting(60.0, positive(float), "seconds of silence before a PING")
    ping_timeout: float = setting(180.0, positive(float), "seconds of silence before a "
                                  "reconnect")
    username: str = setting("kojibot", str, "the user (ident) part of nick!user@host")
    owner: str | None = setting(None, str, "who runs the bot, said in its real name (WHOIS)")
    realname: str = setting(None, str, "the real name WHOIS shows (default: that it is a "
                            "bot, and its owner)")

    def fill(self) -> None:
        if self.port is None:
            object.__setattr__(self, "port", 6697 if self.tls else 6667)
        if self.nick is None:
            object.__setattr__(self, "nick", "kojibot")
        if not self.realname:
            object.__setattr__(self, "realname", default_realname(self.owner))

    def problems(self) -> list[tuple[str, str]]:
        found = []
        if not self.host:
            found.append(("host", "host is empty"))
        if not 0 < self.port < 65536:
            found.append(("port", f"port {self.port} is not a TCP port"))
        if not _NICK.fullmatch(self.nick):
            found.append(("nick", f"nick {self.nick!r} is not a valid IRC nick"))
        if not _USERNAME.fullmatch(self.username):
            found.append(("username", f"username {self.username!r} is not a valid IRC user "
                                      "name"))
        if self.line_rate <= 0 or self.burst < 1:
            found.append(("line_rate", "line_rate must be positive and burst at least 1"))
        if not 0 < self.ping_interval < self.ping_timeout:
            found.append(("ping_interval", "ping_interval must be positive and below "
                                           "ping_timeout"))
        for entry in self.channels:
            name = entry.split(" ", 1)[0]
            if name[:1] not in "#&+!" or len(name) < 2 or re.search(r"[,\x07\s]", name):
                found.append(("channels", f"channel {entry!r} is not a channel name"))
        if self.tls_key and not self.tls_cert:
            found.append(("tls_key", "tls_key needs tls_cert"))
        if self.tls_cert and not self.tls:
            found.append(("tls_cert", "tls_cert needs tls = true"))
        if _CONTROL.search(self.realname):
            found.append(("realname", "realname has control characters"))
        if bool(self.sasl_username) != bool(self.sasl_password):
            found.append(("sasl_password", "sasl_username and sasl_password go together"))
        return found


def default_realname(owner: str | None) -> str:
    """What WHOIS shows: that this is a bot, and who to ask about it."""
    return f"kojibot, a Koji bot run by {owner}" if owner else "kojibot, a Koji build system bot"
