"""Prometheus metrics of one bot, in its own CollectorRegistry (never the process-global one,
so two bots in one process, as in tests, do not mix their figures).

Most figures are counts the core keeps anyway (the consumer's stats, the relay's, the
outbox's, the dispatcher's); they are read when Prometheus scrapes. Hub call latency and
errors come from txkoji's call observer, so txkoji itself needs no metrics library. A
standby (kojibot.health.Standing) gives its role only: ``kojibot_lead`` 0, no term.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

__all__ = ["Metrics"]

HUB_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The registry of one bot: ``render()`` is the text a scrape gets."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, standing: Any):
        self.registry = CollectorRegistry(auto_describe=False)
        self.hub_seconds = Histogram(
            "kojibot_hub_call_seconds", "Koji hub calls by method, answer included",
            ["method"], buckets=HUB_BUCKETS, registry=self.registry)
        self.hub_errors = Counter(
            "kojibot_hub_call_errors", "Koji hub calls that failed, by method and error",
            ["method", "error"], registry=self.registry)
        self.registry.register(BotCollector(standing))
        standing.koji.observers.append(self.observe)

    def observe(self, method: str, seconds: float, error: BaseException | None) -> None:
        self.hub_seconds.labels(method).observe(seconds)
        if error is not None:
            self.hub_errors.labels(method, type(error).__name__).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class BotCollector:
    """The process's role, and once it leads its bot's counts and states, at each scrape."""

    def __init__(self, standing: Any):
        self.standing = standing

    def collect(self) -> Iterator[Metric]:
        standing = self.standing
        yield GaugeMetricFamily("kojibot_lead", "1 while this process leads, 0 as a standby",
                                value=float(standing.bot is not None))
        if standing.term is not None:
            yield GaugeMetricFamily("kojibot_lease_term",
                                    "The lease term this process leads as (PostgreSQL state)",
                                    value=float(standing.term))
        if standing.bot is not None:
            yield from self._bot(standing.bot)

    def _bot(self, bot: Any) -> Iterator[Metric]:
        outbox = bot.outbox
        connected = GaugeMetricFamily("kojibot_connected",
                                      "1 while the chat network or the bus is connected",
                                      labels=["network"])
        for network, adapter in sorted(bot.adapters.items()):
            connected.add_metric([network], float(adapter.ready))
        if bot.consumer is not None:
            connected.add_metric(["bus"], float(bot.consumer.consuming))
        yield connected
        yield GaugeMetricFamily("kojibot_outbox_rows", "Lines queued for chat, not yet sent",
                                value=outbox.depth)
        oldest = min(outbox.oldest.values(), default=None)
        yield GaugeMetricFamily("kojibot_outbox_oldest_seconds",
                                "Age of the oldest line queued for chat (0: none)",
                                value=0.0 if oldest is None else outbox.clock() - oldest)
        yield CounterMetricFamily("kojibot_outbox_sent", "Queued lines written to chat",
                                  value=outbox.sent)
        stats = bot.consumer.stats if bot.consumer is not None else None
        yield CounterMetricFamily("kojibot_events_consumed", "Deliveries taken from the bus",
                                  value=stats.deliveries if stats else 0)
        yield CounterMetricFamily("kojibot_events_rejected",
                                  "Deliveries rejected (malformed messages)",
                                  value=stats.rejected if stats else 0)
        yield CounterMetricFamily("kojibot_events_relayed",
                                  "Events queued for at least one room or person",
                                  value=bot.relay.relayed)
        commands = CounterMetricFamily("kojibot_commands", "Commands and listeners run",
                                       labels=["command"])
        for name, count in sorted(bot.dispatcher.counts.items()):
            commands.add_metric([name], count)
        yield commands
        yield GaugeMetricFamily("kojibot_subscriptions", "Room subscriptions",
                                value=len(bot.subscriptions))
        yield GaugeMetricFamily("kojibot_watches", "Watches on tasks and builds",
                                value=len(bot.watcher.watches))
