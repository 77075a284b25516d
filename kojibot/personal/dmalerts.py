"""DM alerts: who wants to hear about a bus event, and the line they get.

People ask for their own builds (through their ``!iam`` link to a Koji user) or for a
package's. A build's state changes come from build events. A parent ``build`` task that
ends with no build record (a scratch build, or a failure at the SRPM stage, before the
build exists) comes only as a task event, so that one alerts too. Failures add where
they failed and a link to that build.log. Alerts ride along with the event's other
outbox rows (same transaction, same dedupe key), so each person hears of an event once;
the outbox coalesces bursts to one person into digest DMs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from kojibot.chat.message import Message, to_json
from kojibot.relay.hubwait import HubWait, OwnerNames
from kojibot.relay.matching import SubscriptionIndex
from kojibot.state.store import Alert, OutboxEntry, Person, Store, Subscription
from kojibot.wording import describe
from kojibot.wording.eventnames import EVENT_OF_STATE, NOT_MINE, event_word, past_tense
from kojibot.wording.failures import failure_details
from txkoji import messages, web

HUB_WAIT = 5.0  # seconds a hub look-up for an alert may take (the ack waits for it)


def task_event(event: messages.TaskStateChange) -> str | None:
    """The alert event a task change stands for, if it is a build that may have no build
    record: a parent ``build`` task ending (CLOSED only for scratch builds; otherwise
    the build's own COMPLETE event says it)."""
    task = event.task
    if task.method != "build" or task.get("parent") is not None:
        return None
    name = EVENT_OF_STATE.get(event.new)
    if name == "complete" and not task.is_scratch:
        return None
    return name


class AlertIndex:
    """Every person's alerts, matched like channel subscriptions (the room is the person).

    A person's "owner" alert matches the Koji user they linked with ``!iam``; their
    entries are replaced together when the link or the alerts change.
    """

    def __init__(self) -> None:
        self.index = SubscriptionIndex()
        self.entries: dict[tuple[str, str], list[Subscription]] = {}
        self.koji_users: dict[tuple[str, str], str] = {}  # lower-case, for not-mine

    def set_person(self, network: str, identity: str, koji_user: str | None,
                   alerts: Iterable[Alert]) -> None:
        for old in self.entries.pop((network, identity), ()):
            self.index.remove(old)
        self.koji_users.pop((network, identity), None)
        if koji_user:
            self.koji_users[(network, identity)] = koji_user.lower()
        subs = []
        for alert in alerts:
            pattern = koji_user if alert.kind == "owner" else alert.pattern
            if pattern:
                subs.append(Subscription(network, identity, alert.kind, pattern, alert.events))
        for sub in subs:
            self.index.add(sub)
        if subs:
            self.entries[(network, identity)] = subs

    def __bool__(self) -> bool:
        return bool(self.entries)

    def match(self, owner: str | None, package: str | None,
              event: str) -> list[tuple[str, str]]:
        """(network, identity) of everyone to alert, each once."""
        found = {}
        for kind, value in (("owner", owner), ("package", package)):
            for sub in self.index.match(kind, value, event):
                if NOT_MINE in sub.events and owner and \
                        self.koji_users.get((sub.network, sub.room)) == owner.lower():
                    continue
                found[(sub.network, sub.room)] = None
        return list(found)


class Alerts:
    """The relay route that queues DM alerts. It holds everyone's link and alerts in memory
    (loaded at start, kept in step by the writes through ``remember``, ``set`` and
    ``removed``), so reading them never waits on the database."""

    def __init__(self, store: Store, koji: Any, owners: OwnerNames, reactor=None):
        self.store = store
        self.koji = koji
        self.owners = owners
        self.hub = HubWait(HUB_WAIT, reactor)
        self.index = AlertIndex()
        self.people: dict[tuple[str, str], Person] = {}
        self.settings: dict[tuple[str, str], dict[tuple[str, str], Alert]] = defaultdict(dict)
        for alert in store.at_open.alerts:
            self.settings[(alert.network, alert.identity)][(alert.kind, alert.pattern)] = alert
        for person in store.at_open.people:
            self.remember(person)

    def person(self, network: str, identity: str) -> Person | None:
        return self.people.get((network, identity.lower()))

    def of(self, network: str, identity: str) -> list[Alert]:
        """A person's alerts, by kind and pattern."""
        alerts = self.settings.get((network, identity.lower()), {})
        return [alerts[key] for key in sorted(alerts)]

    def with_alert(self, kind: str, koji_user: str | None) -> list[Person]:
        """The people linked to *koji_user* who have an alert of *kind*."""
        if not koji_user:
            return []
        return [person for key, person in self.people.items()
                if person.koji_user and person.koji_user.lower() == koji_user.lower()
                and any(alert_kind == kind for alert_kind, _ in self.settings.get(key, {}))]

    def remember(self, person: Person) -> None:
        """A person's link or contact as now written."""
        self.people[(person.network, person.identity)] = person
        self._index(person.network, person.identity)

    def set(self, alert: Alert) -> None:
        self.settings[(alert.network, alert.identity)][(alert.kind, alert.pattern)] = alert
        self._index(alert.network, alert.identity)

    def removed(self, network: str, identity: str, kind: str | None = None,
                pattern: str | None = None) -> None:
        """A person's alerts as ``Store.remove_alerts`` left them."""
        alerts = self.settings.get((network, identity), {})
        for key in [key for key in alerts if kind is None or key == (kind, pattern or "")]:
            del alerts[key]
        self._index(network, identity)

    def _index(self, network: str, identity: str) -> None:
        person = self.people.get((network, identity))
        self.index.set_person(network, identity, person.koji_user if person else None,
                              self.of(network, identity) if person else ())

    async def entries(self, event: messages.Event) -> list[OutboxEntry]:
        """One DM per person whose alerts match the event."""
        if not self.index:
            return []
        if isinstance(event, messages.BuildStateChange):
            name, package = event_word(event), event.build.package_name
        elif isinstance(event, messages.TaskStateChange):
            name, package = task_event(event), event.task.package
        else:
            return []
        if name is None:
            return []
        owner = await self.owners(event)
        people = self.index.match(owner, package, name)
        if not people or await self._covered_by_build(event, name):
            return []
        message, summary = await self._render(event, owner, name)
        data = to_json(message)
        return [OutboxEntry(network, self.people[(network, identity)].contact, True, summary,
                            data) for network, identity in people if (network, identity) in
                self.people]

    async def _render(self, event: messages.Event, owner: str | None,
                      name: str) -> tuple[Message, str]:
        weburl = self.koji.weburl
        if isinstance(event, messages.BuildStateChange):
            message, summary = describe.event_line(event, owner, weburl)
            task_id = event.build.task_id
        else:
            task = event.task
            url = web.page_url(weburl, "taskinfo", task["id"]) if weburl else None
            message = describe.task_event_line(task, event.new, event.old, owner, url)
            summary = f"builds {past_tense(name)}\t" \
                      f"task {task['id']} ({task.label})"
            task_id = task["id"]
        if name == "failed":
            message.add(*await self.hub(lambda: failure_details(self.koji, task_id), [],
                                        f"failure details of task {task_id}"))
        return message, summary

    async def _covered_by_build(self, event: messages.Event, name: str) -> bool:
        """A failed or canceled build task whose build exists: the build's event alerts."""
        if not isinstance(event, messages.TaskStateChange) or event.task.is_scratch or \
                name == "complete":
            return False
        task_id = event.task["id"]
        builds = await self.hub(lambda: self.koji.listBuilds(taskID=task_id,
                                                             queryOpts={"limit": 1}),
                                [], f"builds of task {task_id}")  # a duplicate beats a loss
        return bool(builds)
