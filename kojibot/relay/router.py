"""Bus deliveries → matching subscriptions → queued chat lines, committed before the ack.

The AMQP consumer hands over batches; each event is parsed (txkoji.messages), matched
against the subscription index, rendered once, and queued for every matching room in
one transaction together with its dedupe key. Only then are the deliveries acked.
Further routes (DM alerts, watches) see every event and add their entries to the same
transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from twisted.logger import Logger

from kojibot.bus.origin import HubOrigin
from kojibot.chat.message import to_json
from kojibot.relay.hubwait import HubWait, OwnerNames
from kojibot.relay.matching import SubscriptionIndex
from kojibot.state.store import OutboxEntry, Store
from kojibot.wording import describe
from kojibot.wording.eventnames import LINES, TRANSITIONS, WHY, event_word, line_of, transition
from kojibot.wording.failures import reasons_of
from txkoji import messages

log = Logger()

NAME_WAIT = 2.0  # seconds a line may wait for a user name from the hub
WHY_WAIT = 5.0  # seconds a failure line of a "why" subscription may wait for its reason
OUTCOMES = ("COMPLETE", "FAILED")  # the build states broken/fixed compare


Route = Callable[[messages.Event], Awaitable[list[OutboxEntry]]]


class Relay:
    def __init__(self, store: Store, index: SubscriptionIndex, koji: Any, *,
                 on_queued: Callable[[], object] = lambda: None,
                 origin: HubOrigin | None = None, reactor=None):
        if reactor is None:
            from twisted.internet import reactor
        self.origin = origin or HubOrigin(getattr(koji, "server", None))
        self.store = store
        self.index = index
        self.koji = koji
        self.on_queued = on_queued
        self.reactor = reactor
        self.owners = OwnerNames(koji, HubWait(NAME_WAIT, reactor))
        self.why_wait = HubWait(WHY_WAIT, reactor)
        self.target_wait = HubWait(NAME_WAIT, reactor)
        self.routes: list[Route] = []
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
            if event is not None and not self.origin.ours(event):
                continue
            entries = await self.entries(event) if event is not None else []
            if event is not None:
                for route in self.routes:
                    entries.extend(await self._route(route, event))
            if entries:
                records.append((event.dedupe_key, entries))
        new = await self.store.record_events(records) if records else 0
        if new:
            self.relayed += new
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
        name = event_word(event)
        if name is None:
            return []
        if isinstance(event, messages.PackageListChange):
            return await self._package_list_entries(event, name)
        build = event.build
        owner = await self.owners(event)
        candidates = (("package", build.package_name), ("owner", owner),
                      ("tag", getattr(event, "tag", None)))
        words = [name]
        if isinstance(event, messages.BuildStateChange) and event.new in OUTCOMES and any(
                self.index.match(kind, value, word)
                for word in TRANSITIONS if self.index.wants(word) for kind, value in candidates):
            change = transition(await self._previous_outcome(event), event.new)
            if change is not None:
                words.append(change)
        rooms = {}
        for kind, value in candidates:
            for word in words:
                for sub in self.index.match(kind, value, word):
                    rooms[(sub.network, sub.room)] = sub
        if not rooms:
            return []
        message, summary = describe.event_line(event, owner, self.koji.weburl)
        data = to_json(message)
        why_data = data
        if name == "failed" and any(WHY in sub.events for sub in rooms.values()):
            why_data = to_json(message.add(*await self._why(build.task_id)))
        line = line_of(event)
        return [OutboxEntry(network, room, False, summary,
                            why_data if WHY in sub.events else data,
                            None if LINES in sub.events else line)
                for (network, room), sub in rooms.items()]

    async def _package_list_entries(self, event: messages.PackageListChange,
                                    name: str) -> list[OutboxEntry]:
        rooms = {(sub.network, sub.room) for sub in self.index.match("packages", event.package,
                                                                      name)}
        if not rooms:
            return []
        owner = event.owner or await self.owners.name_of(event.owner_id)
        message, summary = describe.package_list_line(event, owner, self.koji.weburl)
        data = to_json(message)
        return [OutboxEntry(network, room, False, summary, data) for network, room in rooms]

    async def _previous_outcome(self, event: messages.BuildStateChange) -> str | None:
        """The outcome of the package's build before this one in the same target (the
        build task's target, asked of the hub within TARGET_WAIT; unknown: any target)."""
        build = event.build
        task_id = build.task_id
        if build.record_id is None:
            return None
        target = None
        if task_id is not None:
            task = await self.target_wait(lambda: self.koji.getTaskInfo(task_id, request=True),
                                          None, f"target of task {task_id}")
            target = getattr(task, "target", None)
        return await self.store.note_outcome(build.package_name, str(target or ""),
                                             build.record_id, event.new)

    async def _why(self, task_id: int | None) -> list:
        """`` — why: REASON`` of a failed build's task, within WHY_WAIT."""
        if task_id is None:
            return []
        why = await self.why_wait(lambda: reasons_of(self.koji)(task_id), None,
                                  f"failure reason of task {task_id}")
        return why.parts(self.koji.topurl, always_link=True) if why else []


def _head(body: Any) -> bytes:
    data = body.encode("utf-8", "replace") if isinstance(body, str) else bytes(body or b"")
    return data[:200]
