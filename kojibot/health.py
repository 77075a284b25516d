"""``/healthz`` and ``/metrics`` on a small HTTP port of the bot's own reactor ([metrics]).

Loopback by default: it is for the operator's probes and Prometheus, not for the world.
The port is served from start-up, by a standby as by the lead (kojibot.state.lease), so a
container's health check does not take a waiting standby for a dead one. A standby answers
200 ``{"status": "ok", "role": "standby"}``. The lead answers 200 while every chat network
and the bus are connected, the outbox moves and no store query waits long on the database,
else 503, each time with its role, its networks and its bus, and when unhealthy a short
reason a person can read in a probe's log.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from twisted.application.service import Service
from twisted.internet import endpoints
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import Site

from txkoji.reactors import default_reactor

__all__ = ["Standing", "StatusServer", "health", "problems"]

log = Logger()
DATABASE_STALLED = 5.0  # seconds one store query may take before the bot counts as unhealthy
MISSING = "prometheus_client is not installed: pip install 'kojibot[metrics]'"


class Standing:
    """What this process is now: a standby until it leads and its bot is built (``bot``).
    ``lease`` is the lead lease on PostgreSQL; None where one process runs alone (SQLite)."""

    def __init__(self, koji: Any, lease: Any = None, bot: Any = None):
        self.koji, self.lease, self.bot = koji, lease, bot

    @property
    def role(self) -> str:
        return "standby" if self.bot is None else "lead"

    @property
    def term(self) -> int | None:
        """The lease term this process leads as (None: a standby, or no lease at all)."""
        return self.lease.term if self.lease is not None and self.bot is not None else None


def problems(bot: Any, stalled_after: float) -> list[str]:
    """Why the bot is not healthy now (nothing: healthy)."""
    reasons = [f"{network}: disconnected" for network, adapter in sorted(bot.adapters.items())
               if not adapter.ready]
    if bot.consumer is not None and not bot.consumer.consuming:
        reasons.append(f"bus {bot.consumer.broker}: not consuming")
    reasons += [f"state database: a query ({lane}) has waited {waited:.0f} s"
                for lane, waited in bot.store.stalled() if waited > DATABASE_STALLED]
    outbox, now = bot.outbox, bot.outbox.clock()
    for network, oldest in sorted(outbox.oldest.items()):
        adapter = bot.adapters.get(network)
        idle = now - max(oldest, outbox.moved.get(network, oldest))
        if adapter is not None and adapter.ready and idle > stalled_after:
            reasons.append(f"outbox: nothing sent to {network} for {idle:.0f} s "
                           f"with lines waiting since {now - oldest:.0f} s")
    return reasons


def health(standing: Standing, stalled_after: float) -> dict:
    """The body of ``/healthz``: ``status`` is "ok" or "unhealthy" (then ``reasons``)."""
    bot = standing.bot
    if bot is None:
        return {"status": "ok", "role": "standby"}
    reasons = problems(bot, stalled_after)
    body: dict[str, Any] = {"status": "unhealthy" if reasons else "ok", "role": "lead"}
    if standing.term is not None:
        body["term"] = standing.term
    body["networks"] = {network: "connected" if adapter.ready else "disconnected"
                        for network, adapter in sorted(bot.adapters.items())}
    if bot.consumer is not None:
        body["bus"] = "consuming" if bot.consumer.consuming else "not consuming"
    if reasons:
        body["reasons"] = reasons
    return body


class StatusPage(Resource):
    isLeaf = True  # noqa: N815 - twisted.web names it so

    def __init__(self, standing: Standing, stalled_after: float, metrics: Any):
        super().__init__()
        self.standing, self.stalled_after, self.metrics = standing, stalled_after, metrics

    def render_GET(self, request) -> bytes:
        if request.path == b"/healthz":
            body = health(self.standing, self.stalled_after)
            request.setResponseCode(200 if body["status"] == "ok" else 503)
            request.setHeader(b"content-type", b"application/json")
            return json.dumps(body).encode() + b"\n"
        if request.path == b"/metrics":
            if self.metrics is None:
                request.setResponseCode(501)
                return MISSING.encode() + b"\n"
            request.setHeader(b"content-type", self.metrics.content_type.encode())
            return self.metrics.render()
        request.setResponseCode(404)
        return b"not found: try /healthz or /metrics\n"


class StatusServer(Service):
    """Listens on ``section.listen``; a failure to listen is one log line, not a stop."""

    def __init__(self, standing: Standing, section: Any, *, reactor=None):
        reactor = default_reactor(reactor)
        self.reactor = reactor
        self.host, self.port = section.listen
        self.metrics = _metrics(standing)
        self.site = Site(StatusPage(standing, section.stalled_after, self.metrics))
        self.site.noisy = False
        self.site.log = lambda request: None  # probes every few seconds: no access log
        self._listening = None

    def startService(self) -> None:
        super().startService()
        if self.metrics is None:
            log.warn("[metrics] is set but " + MISSING + "; /metrics answers 501")
        interface = ipaddress.ip_address(self.host)
        kind = (endpoints.TCP6ServerEndpoint if interface.version == 6
                else endpoints.TCP4ServerEndpoint)
        where = f"http://{self.host if interface.version == 4 else f'[{self.host}]'}:{self.port}"
        d = kind(self.reactor, self.port, interface=self.host).listen(self.site)
        d.addCallbacks(lambda port: self._started(port, where), lambda failure: log.error(
            "cannot serve /healthz and /metrics on {where}: {why}", where=where,
            why=failure.getErrorMessage()))

    def _started(self, port, where: str) -> None:
        self._listening = port
        log.info("serving /healthz and /metrics on {where}", where=where)

    def stopService(self):
        super().stopService()
        port, self._listening = self._listening, None
        return port.stopListening() if port is not None else None


def _metrics(standing: Standing):
    try:
        from kojibot.metrics import Metrics
    except ImportError as exc:
        if not (exc.name or "").startswith("prometheus_client"):
            raise
        return None
    return Metrics(standing)
