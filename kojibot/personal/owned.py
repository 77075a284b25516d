"""``!alerts mine`` and ``!alerts koji``: what the hub knows about a person, kept in memory.

Koji already knows who owns each package in each tag's package list, and each user's own
build notifications (``koji add-notification``) and opt-outs, which only steer its e-mails.
For every linked person with one of these alerts this keeps the packages the hub names and
the opt-outs, read again at a low rate (and at once when a package list changes), and hands
them to the alert index as package alerts and mutes, so routing an event never waits on the
hub.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from twisted.internet import defer, task
from twisted.logger import Logger

from kojibot.personal.dmalerts import Alerts
from kojibot.state.records import Alert, Person
from txkoji import messages
from txkoji.exceptions import KojiException

if TYPE_CHECKING:
    from kojibot.relay.route import Enriched

log = Logger()

MINE, KOJI = "mine", "koji"  # the alert kinds (their pattern is empty)
NOTIFIED = frozenset({"complete", "failed", "canceled"})  # what Koji e-mails about


class OwnedPackages:
    """Reads, per person, the packages they own (in *tags*, or any tag) and their Koji
    build notifications, every *interval* seconds and when asked."""

    def __init__(self, koji: Any, alerts: Alerts, *, tags: Iterable[str] = (),
                 interval: float = 3600.0):
        self.koji = koji
        self.alerts = alerts
        self.tags = frozenset(tags)
        self.interval = interval
        self.owned: dict[tuple[str, str], frozenset[str]] = {}
        self._loop = task.LoopingCall(self.refresh_all)

    def start(self) -> None:
        self._loop.start(self.interval, now=True).addErrback(
            lambda failure: log.failure("hub alerts refresh stopped", failure))

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()

    async def refresh_all(self) -> None:
        people = {(p.network, p.identity): p for kind in (MINE, KOJI)
                  for p, _ in self.alerts.having(kind)}
        for key in set(self.alerts.from_hub) - set(people):
            self.alerts.set_from_hub(*key, ())
        for person in people.values():
            try:
                await self.refresh(person)
            except Exception:  # noqa: BLE001 - one odd answer must not end the readings
                log.failure("hub alerts of {user} not read", user=person.koji_user)

    def soon(self, network: str, identity: str) -> None:
        """A person's link changed: read theirs again without making them wait."""
        defer.ensureDeferred(self.refresh_person(network, identity)).addErrback(
            lambda failure: log.failure("hub alerts of {who} not read", failure, who=identity))

    async def refresh_person(self, network: str, identity: str) -> None:
        """After a person's alerts changed: read theirs now (or drop them)."""
        person = self.alerts.person(network, identity)
        if person is None or not person.koji_user:
            self.alerts.set_from_hub(network, identity.lower(), ())
        else:
            await self.refresh(person)

    async def refresh(self, person: Person) -> None:
        """Read *person*'s packages from the hub again; on a hub error keep the last."""
        alerts = {(alert.kind, alert.pattern): alert
                  for alert in self.alerts.of(person.network, person.identity)}
        found: dict[tuple[str, str | None], frozenset[str]] = {}
        mutes: list[tuple[str | None, str | None]] = []
        try:
            if (MINE, "") in alerts:
                owned = await self.packages_of(person.koji_user)
                self.owned[(person.network, person.identity)] = owned
                for name in owned:
                    found[(name, None)] = alerts[(MINE, "")].events
            if (KOJI, "") in alerts:
                for name, tag, events in await self.notifications_of(person.koji_user):
                    found[(name, tag)] = found.get((name, tag), frozenset()) | events
            if found:
                mutes = await self.opt_outs_of(person.koji_user)
        except KojiException as exc:
            log.warn("hub alerts of {user} not read: {why}", user=person.koji_user, why=exc)
            return
        self.alerts.set_from_hub(person.network, person.identity, [
            Alert(person.network, person.identity, "package", name, events, tag)
            for (name, tag), events in found.items()], mutes)

    async def packages_of(self, koji_user: str) -> frozenset[str]:
        """The packages *koji_user* owns, unblocked, in the chosen tags (or any)."""
        rows = await self.koji.listPackages(userID=koji_user, with_dups=True)
        return frozenset(row["package_name"] for row in rows
                         if not row.get("blocked")
                         and (not self.tags or row.get("tag_name") in self.tags))

    async def notifications_of(self, koji_user: str) -> list[tuple[str, str | None,
                                                                   frozenset[str]]]:
        """(package name or ``*``, tag name or None, events) of each of *koji_user*'s
        build notifications; a tag means the build's destination tag, as Koji matches it."""
        found = []
        for row in await self.koji.getBuildNotifications(koji_user):
            named = await self._names(row)
            if named is not None:
                found.append((named[0] or "*", named[1],
                              frozenset({"complete"}) if row.get("success_only")
                              else NOTIFIED))
        return found

    async def opt_outs_of(self, koji_user: str) -> list[tuple[str | None, str | None]]:
        """(package name, tag name) of each of *koji_user*'s Koji opt-outs (``koji
        block-notification``), None for any."""
        found = []
        for row in await self.koji.getBuildNotificationBlocks(koji_user):
            named = await self._names(row)
            if named is not None:
                found.append(named)
        return found

    async def _names(self, row: dict) -> tuple[str | None, str | None] | None:
        """The package and tag names of a notification or opt-out row (None for any);
        None if the hub no longer has its package or tag."""
        name = tag = None
        if row.get("package_id") is not None:
            package = await self.koji.getPackage(row["package_id"])
            if not package:
                return None
            name = package["name"]
        if row.get("tag_id") is not None:
            tag = await self.koji.cache.tag_name(row["tag_id"])
            if not tag:
                return None
        return name, tag

    async def on_event(self, enriched: Enriched) -> None:
        """A relay listener: a package list change re-reads its new owner and whoever
        owned that package (everyone with ``!alerts mine`` when the bus gave only the
        owner's id: such changes are rare)."""
        event = enriched.event
        if not isinstance(event, messages.PackageListChange):
            return
        owner = (enriched.owner or event.owner or "").lower()
        for person, _ in self.alerts.having(MINE):
            if not owner or person.koji_user.lower() == owner or \
                    event.package in self.owned.get((person.network, person.identity), ()):
                await self.refresh(person)
