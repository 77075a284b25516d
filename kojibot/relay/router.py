"""Bus deliveries → matching subscriptions → queued chat lines, committed before the ack.

The AMQP consumer hands over batches; each event is parsed (txkoji.messages), matched
against the subscription index, rendered once, and queued for every matching room in
one SQLite transaction together with its dedupe key. Only then are the deliveries acked.
Further routes (DM alerts, watches) see every event and add their entries to the same
transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from twisted.logger import Logger

from kojibot.chat.message import Message, to_json
from kojibot.relay.hubwait import HubWait
from kojibot.relay.matching import SubscriptionIndex
from kojibot.state.store import OutboxEntry, Store
from kojibot.wording import describe
from kojibot.wording.eventnames import EVENT_OF_STATE, EVENT_OF_TAG_ACTION, past_tense
from txkoji import messages, web

log = Logger()

NAME_WAIT = 2.0  # seconds a line may wait for a user name from the hub


Route = Callable[[messages.Event], Awaitable[list[OutboxEntry]]]


def subscription_event(event: messages.Event) -> str | None:
    """The subscription event name (``complete``, ``tagged``...) of a bus event."""
    if isinstance(event, messages.BuildStateChange):
        return EVENT_OF_STATE.get(event.new)
    if isinstance(event, messages.TagChange):
        return EVENT_OF_TAG_ACTION.get(event.action)
    return None


class Relay:
    def __init__(self, store: Store, index: SubscriptionIndex, koji: Any, *,
                 on_queued: Callable[[], object] = lambda: None, reactor=None):
        if reactor is None:
            from twisted.internet import reactor
        self.store = store
        self.index = index
        self.koji = koji
        self.on_queued = on_queued
        self.reactor = reactor
        self.hub = HubWait(NAME_WAIT, reactor)
        self.routes: list[Route] = []

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
            entries = await self.entries(event) if event is not None else []
            if event is not None:
                for route in self.routes:
                    entries.extend(await self._route(route, event))
            if entries:
                records.append((event.dedupe_key, entries))
        if records and self.store.record_events(records):
            self.on_queued()
        return outcomes

    async def _route(self, route: Route, event: messages.Event) -> list[OutboxEntry]:
        try:
            return await route(event)
        except Exception:  # noqa: BLE001 - one route's bug must not stop the others
            log.failure("route {route} failed on {key}", route=route, key=event.dedupe_key)
            return []

    async def entries(self, event: messages.Event) -> list[OutboxEntry]:
        """One outbox entry per room that wants this event."""
        name = subscription_event(event)
        if name is None:
            return []
        build = event.build
        owner = await self.owner(event)
        rooms = {}
        for kind, value in (("package", build.package_name), ("owner", owner),
                            ("tag", getattr(event, "tag", None))):
            for sub in self.index.match(kind, value, name):
                rooms[(sub.network, sub.room)] = sub
        if not rooms:
            return []
        message, summary = self.render(event, owner)
        data = to_json(message)
        return [OutboxEntry(network, room, False, summary, data) for network, room in rooms]

    def render(self, event: messages.Event, owner: str | None) -> tuple[Message, str]:
        build = event.build
        url = None
        if self.koji.weburl and build.record_id is not None:
            url = web.page_url(self.koji.weburl, "buildinfo", build.record_id)
        if isinstance(event, messages.TagChange):
            verb = "builds tagged into" if event.action == "tag" else "builds untagged from"
            return (describe.tag_event_line(build, event.action, event.tag, owner, url),
                    f"{verb} {event.tag}\t{build.nvr}")
        verb = past_tense(EVENT_OF_STATE.get(event.new, event.new.lower()))
        return (describe.build_event_line(build, event.new, event.old, owner, url),
                f"builds {verb}\t{build.nvr}")

    async def owner(self, event: messages.Event) -> str | None:
        """The acting user's name; looked up by id (bounded by ``self.hub``), else the id."""
        name = getattr(event, "owner", None) or getattr(event, "user", None)
        if name:
            return name
        owner_id = event.build.get("owner_id") if hasattr(event, "build") else \
            getattr(event, "owner_id", None)
        if owner_id is None:
            return None
        name = await self.hub(lambda: self.koji.cache.user_name(owner_id), None,
                              f"name of user {owner_id}")
        return name or f"user {owner_id}"


def _head(body: Any) -> bytes:
    data = body.encode("utf-8", "replace") if isinstance(body, str) else bytes(body or b"")
    return data[:200]
