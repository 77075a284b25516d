"""``[amqp]``: AMQPSettings, as the bus consumer takes it, and the broker its URL names.

The password in the URL stays out of every repr and log line: ``str(Broker)`` is the URL
without it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from kojibot.config.fields import REQUIRED, Section, positive, setting, words

TOPICS = ("koji.#", "org.fedoraproject.*.buildsys.#")
HEARTBEAT = 60


@dataclass(frozen=True)
class Broker:
    """Where ``url`` points. ``str()`` gives it without user and password, for logs."""

    tls: bool
    host: str
    port: int
    vhost: str
    username: str
    password: str = field(repr=False)
    heartbeat: int = HEARTBEAT

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"amqp{'s' if self.tls else ''}://{host}:{self.port}/{quote(self.vhost, safe='')}"


def parse_url(url: str) -> Broker:
    """``amqp[s]://user:password@host:port/vhost[?heartbeat=N]``; ValueError says the flaw."""
    def bad(why: str) -> ValueError:
        return ValueError(why)

    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise bad(str(exc).replace("'", "")) from None
    if parts.scheme not in ("amqp", "amqps"):
        raise bad("must start with amqp:// or amqps://")
    if not parts.hostname:
        raise bad("no host name")
    if port == 0:
        raise bad("port 0 is not a TCP port")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(query) - {"heartbeat"})
    if unknown:
        raise bad(f"unknown parameter {unknown[0]!r} (only heartbeat is understood)")
    heartbeat = query.get("heartbeat", str(HEARTBEAT))
    if not heartbeat.isdigit() or int(heartbeat) > 65535:
        raise bad("heartbeat must be a number of seconds (0 turns heartbeats off)")
    tls = parts.scheme == "amqps"
    return Broker(tls=tls, host=parts.hostname, port=port or (5671 if tls else 5672),
                  vhost=unquote(parts.path[1:]) if parts.path not in ("", "/") else "/",
                  username=unquote(parts.username) if parts.username is not None else "guest",
                  password=unquote(parts.password) if parts.password is not None else "guest",
                  heartbeat=int(heartbeat))


@dataclass(frozen=True)
class AMQPSettings(Section):
    """``[amqp]`` in the config. The password in ``url`` never appears in repr or logs."""

    NAME = "amqp"
    url: str = setting(REQUIRED, str, "broker URL: amqp[s]://user:password@host:port/vhost",
                       secret=True)
    exchange: str = setting("amq.topic", str, "exchange the topics are bound on")
    queue: str = setting("kojibot", str, "the bot's durable queue")
    topics: tuple[str, ...] = setting(TOPICS, words, "routing-key patterns bound to the queue")
    prefetch: int = setting(500, positive(int), "deliveries the broker sends ahead of the acks")
    max_message_bytes: int = setting(1 << 20, positive(int), "a longer body is rejected unread")
    dead_letter_exchange: str | None = setting(None, str, "where rejected messages go")
    ca: str | None = setting(None, str, "amqps: PEM file of CAs to verify the broker with")
    cert: str | None = setting(None, str, "amqps: client certificate (PEM), EXTERNAL login")
    key: str | None = setting(None, str, "amqps: the client certificate's key (PEM)")
    instance: str | None = setting(None, str, "only events of this hub instance count")
    topic_prefix: str | None = setting(None, str, "only routing keys under this prefix count")

    def problems(self) -> list[tuple[str, str]]:
        found = []
        try:
            tls = parse_url(self.url or "").tls
        except ValueError as exc:
            found.append(("url", str(exc)))
            tls = True
        for name in ("exchange", "queue", "dead_letter_exchange"):
            value = getattr(self, name)
            if (value is not None or name != "dead_letter_exchange") and \
                    not 0 < len((value or "").encode()) < 256:
                found.append((name, f"{name} must be 1-255 bytes long"))
        if not self.topics or any(not 0 < len(topic.encode()) < 256 for topic in self.topics):
            found.append(("topics", "topics must be one or more routing-key patterns"))
        if not 0 < self.prefetch < 65536:
            found.append(("prefetch", f"prefetch {self.prefetch} is not in 1-65535"))
        if self.max_message_bytes <= 0:
            found.append(("max_message_bytes", "max_message_bytes must be greater than zero"))
        if bool(self.cert) != bool(self.key):
            found.append(("cert", "cert and key go together"))
        for name in ("ca", "cert", "key"):
            path = getattr(self, name)
            if path and not tls:
                found.append((name, f"{name} needs an amqps:// url"))
            elif path and not os.path.isfile(path):
                found.append((name, f"{name} {path}: no such file"))
        return found

    @property
    def broker(self) -> Broker:
        return parse_url(self.url)
