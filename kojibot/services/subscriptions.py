"""A room's subscriptions: which build events the relay posts there."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from kojibot.chat.model import Incoming
from kojibot.services.events import chosen
from kojibot.state.records import Subscription
from kojibot.wording.eventnames import (
    DEFAULT_EVENTS,
    EDIT,
    EVENTS,
    LINES,
    OPTIONS,
    PACKAGE_EVENTS,
    TRANSITIONS,
)

if TYPE_CHECKING:
    from kojibot.relay.matching import SubscriptionIndex
    from kojibot.state.store import Store


class Subscriptions:
    """The subscriptions of the room a line was said in (none in a DM)."""

    def __init__(self, store: Store, index: SubscriptionIndex, incoming: Incoming):
        self._store = store
        self._index = index
        self._incoming = incoming

    @staticmethod
    def events(kind: str, words: Iterable[str]) -> frozenset[str]:
        """The events *words* ask for in a *kind* subscription: build events, ``broken``,
        ``fixed`` and ``why``, or for "packages" the package-list events; ``all``; none
        means the default. ValueError, whose message is the line to answer, for an
        unknown word. ``edit`` (a build's end edits its start line, where the network can)
        is the default and not kept; ``lines`` asks for a line each."""
        if kind == "packages":
            return chosen(words, PACKAGE_EVENTS, PACKAGE_EVENTS, (), PACKAGE_EVENTS)
        picked = chosen(words, (*EVENTS, *TRANSITIONS), EVENTS, OPTIONS, DEFAULT_EVENTS)
        if {EDIT, LINES} <= picked:
            raise ValueError("Choose edit or lines, not both.")
        return picked - {EDIT}

    async def add(self, kind: str, pattern: str, events: frozenset[str]) -> bool:
        """Post *pattern*'s *events* (kind "package", "tag", "owner" or "packages") in this
        room; False if exactly that was so already."""
        incoming = self._incoming
        sub = Subscription(incoming.network, incoming.room, kind, pattern, frozenset(events),
                           created_by=incoming.identity)
        changed = await self._store.subscribe(sub)
        self._index.add(sub)
        return changed

    async def remove(self, kind: str, pattern: str) -> bool:
        """Stop posting *pattern*'s events here; False if this room had no such one."""
        network, room = self._incoming.network, self._incoming.room
        if not await self._store.unsubscribe(network, room, kind, pattern):
            return False
        self._index.remove(Subscription(network, room, kind, pattern, frozenset()))
        return True

    def current(self) -> list[Subscription]:
        """This room's subscriptions."""
        return self._index.in_room(self._incoming.network, self._incoming.room)
