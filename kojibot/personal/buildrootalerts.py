"""``!alerts buildroot``: each completed build of a person becomes a buildroot watch on its
target's build tag, reported in a DM when a repo of that tag holds it."""

from __future__ import annotations

from twisted.logger import Logger

from kojibot.personal.dmalerts import Alerts
from kojibot.personal.watcher import Watcher
from kojibot.state.store import OutboxEntry
from txkoji import messages

log = Logger()

KIND = "buildroot"  # the alert kind (its pattern is empty: the person's own builds)


class BuildrootAlerts:
    """A relay route: it queues nothing itself; the watches it adds report later."""

    def __init__(self, alerts: Alerts, watcher: Watcher):
        self.alerts = alerts
        self.watcher = watcher

    async def entries(self, event: messages.Event) -> list[OutboxEntry]:
        if not isinstance(event, messages.BuildStateChange) or event.new != "COMPLETE":
            return []
        people = self.alerts.with_alert(KIND, await self.alerts.owners(event))
        if not people:
            return []
        nvr = event.build.nvr
        found = await self.watcher.hub(
            lambda: self.watcher.look_buildroot(event.build.record_id or nvr, None),
            f"no answer from the hub about {nvr}", f"the build tag of {nvr}")
        if isinstance(found, str):
            log.info("buildroot alert: {why}", why=found)
            return []
        for person in people:
            watch = type(found)(person.network, person.identity, person.contact, None,
                                found.kind, found.ref, found.label, dict(found.states),
                                tag=found.tag)
            await self.watcher.add(watch)
        return []
