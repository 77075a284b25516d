"""The bus consumer's settings: the ``[amqp]`` section checked, its URL read, TLS set up.

Every problem is a one-line ValueError naming the key. The password in the URL stays out
of every repr and log line: ``str(Broker)`` is the URL without it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from txkoji import tls

__all__ = ["AMQPSettings", "Broker", "parse_url", "tls_options"]

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
    """``amqp[s]://user:password@host:port/vhost[?heartbeat=N]``; ValueError names the flaw."""
    def bad(why: str) -> ValueError:
        return ValueError(f"[amqp] url: {why}")

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
class AMQPSettings:
    """``[amqp]`` in the config. The password in ``url`` never appears in repr or logs."""

    url: str = field(repr=False)
    exchange: str = "amq.topic"
    queue: str = "kojibot"  # durable; survives restarts of the bot and of the broker
    topics: tuple[str, ...] = TOPICS  # routing-key patterns bound to the queue
    prefetch: int = 500  # deliveries the broker sends ahead of the acks
    max_message_bytes: int = 1 << 20  # a longer body is rejected unread
    dead_letter_exchange: str | None = None  # where rejected (malformed) messages go
    ca: str | None = None  # PEM file of CAs to verify the broker with (default: the system's)
    cert: str | None = None  # client certificate (PEM) and its key: EXTERNAL login
    key: str | None = None
    instance: str | None = None  # only events of this hub instance count (kojibot.bus.origin)
    topic_prefix: str | None = None  # only routing keys under this prefix count

    def __post_init__(self) -> None:
        object.__setattr__(self, "topics", tuple(self.topics))
        broker = parse_url(self.url)
        problems = []
        for name in ("exchange", "queue", "dead_letter_exchange"):
            value = getattr(self, name)
            if (value is not None or name != "dead_letter_exchange") and \
                    not 0 < len((value or "").encode()) < 256:
                problems.append(f"{name} must be 1-255 bytes long")
        if not self.topics or any(not 0 < len(topic.encode()) < 256 for topic in self.topics):
            problems.append("topics must be one or more routing-key patterns")
        if not 0 < self.prefetch < 65536:
            problems.append(f"prefetch {self.prefetch} is not in 1-65535")
        if self.max_message_bytes <= 0:
            problems.append("max_message_bytes must be greater than zero")
        if bool(self.cert) != bool(self.key):
            problems.append("cert and key go together")
        for name in ("ca", "cert", "key"):
            path = getattr(self, name)
            if path and not broker.tls:
                problems.append(f"{name} needs an amqps:// url")
            elif path and not os.path.isfile(path):
                problems.append(f"{name} {path}: no such file")
        if problems:
            raise ValueError("[amqp] " + "; ".join(problems))

    @property
    def broker(self) -> Broker:
        return parse_url(self.url)


def tls_options(settings: AMQPSettings, broker: Broker):
    """Verify the broker (system CAs or ``ca``); present ``cert``/``key`` if given."""
    try:
        return tls.client_options(broker.host, ca=settings.ca, cert=settings.cert,
                                  key=settings.key)
    except tls.PEMError as exc:
        raise ValueError(f"[amqp] cannot load the TLS files: {exc}") from None
