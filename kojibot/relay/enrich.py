"""The relay's one I/O step: what a bus event leaves out, looked up before routing.

The owner's name (the hub's user cache), the outcome of the package's build before this
one in the same target (written and read in the store's build_outcome table, for
broken/fixed), why a build failed (read from its logs) and, for DM alerts, where it failed,
whether a task's build will speak for it and (for alerts bound to a tag) the build's
destination tag. Each hub look-up is bounded in time (kojibot.relay.hubwait), and each is
made only when a subscription or an alert that matches would read it; the result is a
plain :class:`~kojibot.relay.route.Enriched`.
"""

from __future__ import annotations

from typing import Any

from kojibot.lookups import Lookups
from kojibot.personal.dmalerts import alert_subject
from kojibot.relay.hubwait import HubWait, OwnerNames
from kojibot.relay.route import Enriched, Indexes, list_rooms, rooms, wants_turn, wants_why
from kojibot.wording.eventnames import WHY, event_word, transition
from txkoji import messages

NAME_WAIT = 2.0  # seconds a line may wait for a user name from the hub
WHY_WAIT = 5.0  # seconds a failure line of a "why" subscription may wait for its reason
ALERT_WAIT = 5.0  # seconds a hub look-up for an alert may take (the ack waits for it)


def task_of(event: messages.Event) -> int | None:
    """The build task a build event (or a build task's own event) is about."""
    if isinstance(event, messages.BuildStateChange):
        return event.build.task_id
    return event.task["id"]


class Enricher:
    """Bus event → :class:`Enriched`; holds the time bounds (and their pauses after a hub
    failure) of each kind of look-up."""

    def __init__(self, store: Any, lookups: Lookups, indexes: Indexes, reactor: Any = None):
        self.store = store
        self.lookups = lookups
        self.indexes = indexes
        self.owners = OwnerNames(lookups.koji, HubWait(NAME_WAIT, reactor))
        self.target_wait = HubWait(NAME_WAIT, reactor)
        self.why_wait = HubWait(WHY_WAIT, reactor)
        self.alert_wait = HubWait(ALERT_WAIT, reactor)

    async def __call__(self, event: messages.Event) -> Enriched:
        weburl = getattr(self.lookups.koji, "weburl", None)
        word = event_word(event)
        index = self.indexes.subscriptions
        if isinstance(event, messages.PackageListChange):
            owner = None
            if word is not None and list_rooms(event, word, index):
                owner = event.owner or await self.owners.name_of(event.owner_id)
            return Enriched(event, weburl, word, owner)
        alerts = self.indexes.alerts
        alert = alert_subject(event) if alerts else None
        if word is None and alert is None:
            return Enriched(event, weburl)
        owner = await self.owners(event)
        turn, why = None, []
        if word is not None:
            if wants_turn(event, owner, index):
                turn = transition(await self._previous_outcome(event), event.new)
            if word == "failed" and index.wants(WHY) and \
                    wants_why(rooms(event, word, owner, turn, index)):
                why = await self._why(event.build.task_id)
        covered, details, tag = False, [], None
        if alert is not None:
            if alerts.wants_tag(alert[1], alert[0]):
                tag = await self._destination(event)
            if alerts.recipients(owner, alert[1], alert[0], tag):
                covered = await self._covered_by_build(event, alert[0])
                if alert[0] == "failed" and not covered:
                    details = await self._details(event)
        return Enriched(event, weburl, word, owner, turn, tuple(why), alert, covered,
                        tuple(details), tag)

    async def _previous_outcome(self, event: messages.BuildStateChange) -> str | None:
        """The outcome of the package's build before this one in the same target (the
        build task's target, asked of the hub within NAME_WAIT; unknown: any target)."""
        build = event.build
        task_id = build.task_id
        if build.record_id is None:
            return None
        target = None
        if task_id is not None:
            koji = self.lookups.koji
            task = await self.target_wait(lambda: koji.getTaskInfo(task_id, request=True),
                                          None, f"target of task {task_id}")
            target = getattr(task, "target", None)
        return await self.store.note_outcome(build.package_name, str(target or ""),
                                             build.record_id, event.new)

    async def _why(self, task_id: int | None) -> list:
        """`` — why: REASON`` of a failed build's task, within WHY_WAIT."""
        if task_id is None:
            return []
        return await self.why_wait(lambda: self.lookups.why_parts(task_id), [],
                                   f"failure reason of task {task_id}")

    async def _details(self, event: messages.Event) -> list:
        """Where a build failed (arches, build.log links, why), within ALERT_WAIT."""
        task_id = task_of(event)
        return await self.alert_wait(lambda: self.lookups.failure_details(task_id), [],
                                     f"failure details of task {task_id}")

    async def _destination(self, event: messages.Event) -> str | None:
        """The build's destination tag (its task's target's), within ALERT_WAIT."""
        task_id = task_of(event)
        if task_id is None:
            return None
        return await self.alert_wait(lambda: self.lookups.destination_tag(task_id), None,
                                     f"destination tag of task {task_id}")

    async def _covered_by_build(self, event: messages.Event, word: str) -> bool:
        """A failed or canceled build task whose build exists: the build's event alerts."""
        if not isinstance(event, messages.TaskStateChange) or event.task.is_scratch or \
                word == "complete":
            return False
        task_id = event.task["id"]
        koji = self.lookups.koji
        builds = await self.alert_wait(lambda: koji.listBuilds(taskID=task_id,
                                                               queryOpts={"limit": 1}),
                                       [], f"builds of task {task_id}")  # a duplicate beats a loss
        return bool(builds)
