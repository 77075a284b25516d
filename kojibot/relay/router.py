"""Bus deliveries → enriched events → routed chat lines, committed before the ack.

The AMQP consumer hands over batches; each event is parsed (txkoji.messages), enriched by
the one I/O step (kojibot.relay.enrich: hub look-ups and the build_outcome row), routed
without I/O (kojibot.relay.route: rooms and DM alerts from the in-memory indexes), and
queued in one transaction together with its dedupe key. Only then are the deliveries
acked. Listeners (watches) see every enriched event before that commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from twisted.logger import Logger

from kojibot.bus.origin import HubOrigin
from kojibot.lookups import Lookups
from kojibot.personal.dmalerts import Alerts
from kojibot.relay.enrich import Enricher
from kojibot.relay.matching import SubscriptionIndex
from kojibot.relay.route import Enriched, Indexes, route
from kojibot.state.store import OutboxEntry, Store
from txkoji import messages
from txkoji.reactors import default_reactor

log = Logger()

Listener = Callable[[Enriched], Awaitable[object]]


class Relay:
    def __init__(self, store: Store, index: SubscriptionIndex, koji: Any, *,
                 alerts: Alerts | None = None, lookups: Lookups | None = None,
                 on_queued: Callable[[], object] = lambda: None,
                 origin: HubOrigin | None = None, reactor=None):
        reactor = default_reactor(reactor)
        self.origin = origin or HubOrigin(getattr(koji, "server", None))
        self.store = store
        self.indexes = Indexes(index, alerts)
        self.enrich = Enricher(store, lookups or Lookups(koji), self.indexes, reactor)
        self.on_queued = on_queued
        self.listeners: list[Listener] = []
        self.relayed = 0  # events queued for at least one room or person, since start

    async def handle(self, batch: Sequence[Any]) -> list[str]:
        """Outcomes ("ack" or "reject") for a batch of deliveries, after committing."""
        outcomes: list[str] = []
        records: list[tuple[str, list[OutboxEntry]]] = []
        for delivery in batch:
            try:
                event = messages.parse(delivery.routing_key, delivery.headers, delivery.body,
                                       message_id=getattr(delivery, "message_id", None))
            except messages.MalformedMessage as exc:
                log.warn("rejected malformed message on {key}: {why}; body starts {head!r}",
                         key=delivery.routing_key, why=exc, head=_head(delivery.body))
                outcomes.append("reject")
                continue
            outcomes.append("ack")
            if event is None or not self.origin.ours(event):
                continue
            enriched = await self.enrich(event)
            entries = route(enriched, self.indexes)
            for listener in self.listeners:
                await self._tell(listener, enriched)
            if entries:
                records.append((event.dedupe_key, entries))
        new = await self.store.record_events(records) if records else 0
        if new:
            self.relayed += new
            self.on_queued()
        return outcomes

    async def _tell(self, listener: Listener, enriched: Enriched) -> None:
        try:
            await listener(enriched)
        except Exception:  # noqa: BLE001 - one listener's bug must not stop the relay
            log.failure("listener {listener} failed on {key}", listener=listener,
                        key=enriched.event.dedupe_key)


def _head(body: Any) -> bytes:
    data = body.encode("utf-8", "replace") if isinstance(body, str) else bytes(body or b"")
    return data[:200]
