"""``!alerts buildroot``: each completed build of a person becomes a buildroot watch on its
target's build tag, reported in a DM when a repo of that tag holds it."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from twisted.logger import Logger

from kojibot.personal.dmalerts import Alerts
from kojibot.personal.watcher import Watcher
from txkoji import messages

if TYPE_CHECKING:
    from kojibot.relay.route import Enriched
    from kojibot.state.store import Store

log = Logger()

KIND = "buildroot"  # the alert kind (its pattern is empty: the person's own builds)


class BuildrootAlerts:
    """A relay listener: it queues nothing itself; the watches it adds report later."""

    def __init__(self, store: Store, alerts: Alerts, watcher: Watcher):
        self.store = store
        self.alerts = alerts
        self.watcher = watcher

    async def on_event(self, enriched: Enriched) -> None:
        event = enriched.event
        if not isinstance(event, messages.BuildStateChange) or event.new != "COMPLETE":
            return
        people = self.alerts.with_alert(KIND, enriched.owner)
        if not people:
            return
        nvr = event.build.nvr
        found = await self.watcher.hub(
            lambda: self.watcher.look_buildroot(event.build.record_id or nvr, None),
            f"no answer from the hub about {nvr}", f"the build tag of {nvr}")
        if isinstance(found, str):
            log.info("buildroot alert: {why}", why=found)
            return
        for person in people:
            watch = replace(found, network=person.network, identity=person.identity,
                            asker=person.contact, room=None, states=dict(found.states))
            await self.store.add_watch(watch)
            self.watcher.track(watch)
