"""A person's DM alerts: builds of their linked Koji user, or of packages."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from kojibot.services.events import chosen
from kojibot.services.identity import Identity
from kojibot.state.records import Alert
from kojibot.wording.eventnames import BUILD_EVENTS, DEFAULT_EVENTS, NOT_MINE

if TYPE_CHECKING:
    from kojibot.personal.dmalerts import Alerts as AlertRoute
    from kojibot.personal.owned import OwnedPackages
    from kojibot.state.store import Store


class Alerts:
    """The asker's alerts. The relay's alert route holds everyone's in memory."""

    def __init__(self, store: Store, route: AlertRoute, identity: Identity,
                 owned: OwnedPackages | None = None):
        self._store = store
        self._route = route
        self._identity = identity
        self._owned = owned  # reads "mine" and "koji" alerts' packages from the hub

    @staticmethod
    def events(kind: str, words: Iterable[str]) -> frozenset[str]:
        """The build events *words* ask for (``all``; none means the default), and for a
        "package" alert ``not-mine`` (leave out the asker's own builds). ValueError, whose
        message is the line to answer, for an unknown word."""
        options = (NOT_MINE,) if kind == "package" else ()
        return chosen(words, BUILD_EVENTS, BUILD_EVENTS, options, DEFAULT_EVENTS)

    def current(self, identity: str | None = None) -> list[Alert]:
        """The asker's alerts (or *identity*'s), by kind and pattern."""
        return self._route.of(self._identity.network, identity or self._identity.who)

    async def set(self, kind: str, pattern: str, events: frozenset[str]) -> Alert:
        """Alert the asker about builds of their Koji user (kind "owner", pattern "") or of
        a package (kind "package", pattern a name or glob), or of the packages the hub
        names for them (kinds "mine" and "koji", pattern "")."""
        await self._identity.reachable()
        alert = Alert(self._identity.network, self._identity.who, kind, pattern,
                      frozenset(events))
        await self._store.set_alert(alert)
        self._route.set(alert)
        await self._from_hub()
        return alert

    async def remove(self, kind: str | None = None, pattern: str | None = None) -> int:
        """Remove the asker's alerts (all, or one kind and pattern); how many went."""
        network, who = self._identity.network, self._identity.who
        removed = await self._store.remove_alerts(network, who, kind, pattern)
        self._route.removed(network, who, kind, pattern)
        await self._from_hub()
        return removed

    async def _from_hub(self) -> None:
        if self._owned is not None:
            await self._owned.refresh_person(self._identity.network, self._identity.who)
