"""DM alerts: who wants to hear about which bus events.

People ask for their own builds (through their ``!iam`` link to a Koji user) or for a
package's. A build's state changes come from build events. A parent ``build`` task that
ends with no build record (a scratch build, or a failure at the SRPM stage, before the
build exists) comes only as a task event, so that one alerts too. Failures add where
they failed and a link to that build.log. Alerts ride along with the event's other
outbox rows (same transaction, same dedupe key), so each person hears of an event once;
the outbox coalesces bursts to one person into digest DMs (on Matrix a build's end edits
the DM that told its start). Which alerts an event brings is
decided in kojibot.relay.route, from what kojibot.relay.enrich looked up.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from kojibot.relay.matching import SubscriptionIndex
from kojibot.state.records import Alert, Person, Subscription
from kojibot.wording.eventnames import EVENT_OF_STATE, NOT_MINE, event_word
from txkoji import messages


def alert_subject(event: messages.Event) -> tuple[str, str | None] | None:
    """The alert word and package of a bus event, if people may be alerted of it."""
    if isinstance(event, messages.BuildStateChange):
        name, package = event_word(event), event.build.package_name
    elif isinstance(event, messages.TaskStateChange):
        name, package = task_event(event), event.task.package
    else:
        return None
    return (name, package) if name is not None else None


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


TAGGED = "package in "  # + a tag: the index kind of a package alert bound to a tag
FROM_HUB = "koji"  # who made a subscription in the index that the hub's data made
Mute = tuple[str | None, str | None]  # a Koji opt-out: (package, tag), None for any


class AlertIndex:
    """Every person's alerts, matched like channel subscriptions (the room is the person).

    A person's "owner" alert matches the Koji user they linked with ``!iam``; their
    entries are replaced together when the link or the alerts change. A package alert
    bound to a tag is filed under that tag's kind, and its package in ``tagged`` too, so
    the relay looks up a build's destination tag only when such an alert could match.
    The alerts made from the hub's data are muted by the person's Koji opt-outs
    (``koji block-notification``), as Koji mutes its mails; their own alerts are not.
    """

    def __init__(self) -> None:
        self.index = SubscriptionIndex()
        self.tagged = SubscriptionIndex()
        self.entries: dict[tuple[str, str], list[Subscription]] = {}
        self.koji_users: dict[tuple[str, str], str] = {}  # lower-case, for not-mine
        self.mutes: dict[tuple[str, str], list[Mute]] = {}  # lower-case

    def set_person(self, network: str, identity: str, koji_user: str | None,
                   alerts: Iterable[Alert], hub: Iterable[Alert] = (),
                   mutes: Iterable[Mute] = ()) -> None:
        """A person's own *alerts*, and those made from the *hub*'s data with the opt-outs
        that mute them."""
        for old in self.entries.pop((network, identity), ()):
            self.index.remove(old)
            self.tagged.remove(Subscription(network, identity, "package", old.pattern,
                                            frozenset()))
        self.koji_users.pop((network, identity), None)
        if koji_user:
            self.koji_users[(network, identity)] = koji_user.lower()
        subs, tagged = [], defaultdict(frozenset)
        hub = list(hub)
        for alert, made_by in [*((alert, None) for alert in alerts),
                               *((alert, FROM_HUB) for alert in hub)]:
            pattern = koji_user if alert.kind == "owner" else alert.pattern
            if not pattern:
                continue
            kind = alert.kind
            if alert.tag:
                kind = TAGGED + alert.tag.lower()
                tagged[pattern] |= alert.events
            subs.append(Subscription(network, identity, kind, pattern, alert.events,
                                     created_by=made_by))
        mutes = [(package and package.lower(), tag and tag.lower()) for package, tag in mutes]
        self.mutes.pop((network, identity), None)
        if mutes and hub:
            self.mutes[(network, identity)] = mutes
            for package, tag in mutes:
                if tag:  # whether it mutes depends on the tag: worth a look-up
                    tagged[package or "*"] |= frozenset().union(*(a.events for a in hub))
        for sub in subs:
            self.index.add(sub)
        for pattern, events in tagged.items():
            self.tagged.add(Subscription(network, identity, "package", pattern, events))
        if subs:
            self.entries[(network, identity)] = subs

    def __bool__(self) -> bool:
        return bool(self.entries)

    def muted(self, sub: Subscription, package: str | None, tag: str | None) -> bool:
        """Whether one of the person's Koji opt-outs covers this build: its package (or
        any) and its destination tag (or any; a build with no target only meets
        opt-outs for any tag)."""
        package, tag = (package or "").lower(), (tag or "").lower() or None
        return any((muted_package is None or muted_package == package) and
                   (muted_tag is None or muted_tag == tag)
                   for muted_package, muted_tag in self.mutes.get((sub.network, sub.room), ()))

    def wants_tag(self, package: str | None, event: str) -> bool:
        """Whether an alert bound to a tag could match: then the tag is worth a look-up."""
        return bool(self.tagged.match("package", package, event))

    def match(self, owner: str | None, package: str | None, event: str,
              tag: str | None = None) -> list[tuple[str, str]]:
        """(network, identity) of everyone to alert, each once; *tag* is the build's
        destination tag, if known."""
        found = {}
        candidates = [("owner", owner), ("package", package)]
        if tag:
            candidates.append((TAGGED + tag.lower(), package))
        for kind, value in candidates:
            for sub in self.index.match(kind, value, event):
                if NOT_MINE in sub.events and owner and \
                        self.koji_users.get((sub.network, sub.room)) == owner.lower():
                    continue
                if sub.created_by == FROM_HUB and self.muted(sub, package, tag):
                    continue
                found[(sub.network, sub.room)] = None
        return list(found)


class Alerts:
    """Everyone's link and alerts in memory (as the store had them at open, kept in step
    by the writes through ``remember``, ``set`` and ``removed``), so reading them never
    waits on the database; the relay's route asks it who to alert."""

    def __init__(self, people: Iterable[Person] = (), alerts: Iterable[Alert] = ()):
        self.index = AlertIndex()
        self.people: dict[tuple[str, str], Person] = {}
        self.settings: dict[tuple[str, str], dict[tuple[str, str], Alert]] = defaultdict(dict)
        self.from_hub: dict[tuple[str, str], list[Alert]] = {}  # see kojibot.personal.owned
        self.hub_mutes: dict[tuple[str, str], list[Mute]] = {}
        for alert in alerts:
            self.settings[(alert.network, alert.identity)][(alert.kind, alert.pattern)] = alert
        for person in people:
            self.remember(person)

    def __bool__(self) -> bool:
        """Whether anybody has an alert to match."""
        return bool(self.index)

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

    def having(self, kind: str) -> list[tuple[Person, Alert]]:
        """Every linked person with an alert of *kind*, with that alert."""
        found = []
        for key, person in self.people.items():
            alert = self.settings.get(key, {}).get((kind, ""))
            if alert is not None and person.koji_user:
                found.append((person, alert))
        return found

    def set_from_hub(self, network: str, identity: str, alerts: Iterable[Alert],
                     mutes: Iterable[Mute] = ()) -> None:
        """A person's package alerts as the hub has them (packages they own, their Koji
        build notifications) and their Koji opt-outs; matched with their own alerts,
        never stored."""
        self.from_hub[(network, identity)] = list(alerts)
        self.hub_mutes[(network, identity)] = list(mutes)
        self._index(network, identity)

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

    def wants_tag(self, package: str | None, event: str) -> bool:
        """Whether a build's destination tag could change who is alerted of ``event``."""
        return self.index.wants_tag(package, event)

    def recipients(self, owner: str | None, package: str | None, event: str,
                   tag: str | None = None) -> list[tuple[str, str]]:
        """(network, contact) of everyone to alert of ``event`` (of a build whose
        destination tag is *tag*, if known), each once."""
        found = []
        for network, identity in self.index.match(owner, package, event, tag):
            person = self.people.get((network, identity))
            if person is not None:
                found.append((network, person.contact))
        return found

    def _index(self, network: str, identity: str) -> None:
        person = self.people.get((network, identity))
        own = self.of(network, identity) if person else []
        patterns = {alert.pattern for alert in own if alert.kind == "package"}
        hub = [alert for alert in self.from_hub.get((network, identity), ())
               if alert.pattern not in patterns]
        self.index.set_person(network, identity, person.koji_user if person else None,
                              own, hub, self.hub_mutes.get((network, identity), ()))
