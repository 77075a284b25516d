"""Who gets what of a bus event, decided without I/O.

kojibot.relay.enrich looks up what an event leaves out (the owner's name, the outcome of
the package's build before, why a build failed) and hands over an :class:`Enriched`
record; :func:`route` matches it against the in-memory indexes (room subscriptions,
people's DM alerts and their Koji user links) and renders one outbox entry per room or
person. The helpers below also tell enrich which look-ups anybody would read.
"""

from __future__ import annotations

from dataclasses import dataclass

from kojibot.chat.message import Message, Part, to_json
from kojibot.personal.dmalerts import Alerts
from kojibot.relay.matching import SubscriptionIndex
from kojibot.state.records import OutboxEntry, Subscription
from kojibot.wording import describe
from kojibot.wording.eventnames import LINES, TRANSITIONS, WHY, line_of, past_tense
from txkoji import messages, web

OUTCOMES = ("COMPLETE", "FAILED")  # the build states broken/fixed compare

Rooms = dict[tuple[str, str], Subscription]


@dataclass(frozen=True)
class Enriched:
    """A bus event with what the hub and the store add to it; plain data."""

    event: messages.Event
    weburl: str | None = None
    word: str | None = None  # the event word rooms subscribe to (eventnames.event_word)
    owner: str | None = None  # the acting user's name (``user ID`` if the hub did not say)
    turn: str | None = None  # "broken" or "fixed": the package's outcome turned
    why: tuple[Part, ...] = ()  # `` — why: ...`` for rooms subscribed with "why"
    alert: tuple[str, str | None] | None = None  # the DM alert word and package
    covered: bool = False  # a failed task whose build exists: the build's event alerts
    details: tuple[Part, ...] = ()  # where a build failed, for DM alerts
    tag: str | None = None  # the build's destination tag, when an alert bound to one asks


@dataclass
class Indexes:
    """What routing reads: all in memory, kept in step with the store by its writers."""

    subscriptions: SubscriptionIndex
    alerts: Alerts | None = None


def candidates(event: messages.Event, owner: str | None) -> tuple[tuple[str, str | None], ...]:
    """(subscription kind, name) pairs a build or tag event is matched by."""
    return (("package", event.build.package_name), ("owner", owner),
            ("tag", getattr(event, "tag", None)))


def wants_turn(event: messages.Event, owner: str | None, index: SubscriptionIndex) -> bool:
    """Whether a broken/fixed subscription matches this outcome: then the outcome before it
    is worth looking up."""
    return isinstance(event, messages.BuildStateChange) and event.new in OUTCOMES and any(
        index.match(kind, value, word)
        for word in TRANSITIONS if index.wants(word) for kind, value in candidates(event, owner))


def rooms(event: messages.Event, word: str, owner: str | None, turn: str | None,
          index: SubscriptionIndex) -> Rooms:
    """The rooms a build or tag event goes to, each with the subscription that brings it."""
    found: Rooms = {}
    words = (word, turn) if turn else (word,)
    for kind, value in candidates(event, owner):
        for each in words:
            for sub in index.match(kind, value, each):
                found[(sub.network, sub.room)] = sub
    return found


def wants_why(found: Rooms) -> bool:
    return any(WHY in sub.events for sub in found.values())


def list_rooms(event: messages.PackageListChange, word: str,
               index: SubscriptionIndex) -> set[tuple[str, str]]:
    """The rooms a package-list change goes to."""
    return {(sub.network, sub.room) for sub in index.match("packages", event.package, word)}


def route(enriched: Enriched, indexes: Indexes) -> list[OutboxEntry]:
    """One outbox entry per room, then one per person, that wants this event."""
    return room_entries(enriched, indexes.subscriptions) + \
        alert_entries(enriched, indexes.alerts)


def room_entries(enriched: Enriched, index: SubscriptionIndex) -> list[OutboxEntry]:
    event, word = enriched.event, enriched.word
    if word is None:
        return []
    if isinstance(event, messages.PackageListChange):
        targets = list_rooms(event, word, index)
        if not targets:
            return []
        message, summary = describe.package_list_line(event, enriched.owner, enriched.weburl)
        data = to_json(message)
        return [OutboxEntry(network, room, False, summary, data) for network, room in targets]
    found = rooms(event, word, enriched.owner, enriched.turn, index)
    if not found:
        return []
    message, summary = describe.event_line(event, enriched.owner, enriched.weburl)
    data = why_data = to_json(message)
    if enriched.why:
        why_data = to_json(message.add(*enriched.why))
    line = line_of(event)
    return [OutboxEntry(network, room, False, summary, why_data if WHY in sub.events else data,
                        None if LINES in sub.events else line)
            for (network, room), sub in found.items()]


def alert_entries(enriched: Enriched, alerts: Alerts | None) -> list[OutboxEntry]:
    if alerts is None or enriched.alert is None or enriched.covered:
        return []
    word, package = enriched.alert
    people = alerts.recipients(enriched.owner, package, word, enriched.tag)
    if not people:
        return []
    message, summary = alert_line(enriched, word)
    data, line = to_json(message), line_of(enriched.event)
    return [OutboxEntry(network, contact, True, summary, data, line)
            for network, contact in people]


def alert_line(enriched: Enriched, word: str) -> tuple[Message, str]:
    """A DM alert's line (a build's, or a build task's that has no build) and its digest
    form."""
    event, weburl = enriched.event, enriched.weburl
    if isinstance(event, messages.BuildStateChange):
        message, summary = describe.event_line(event, enriched.owner, weburl)
    else:
        task = event.task
        url = web.page_url(weburl, "taskinfo", task["id"]) if weburl else None
        message = describe.task_event_line(task, event.new, event.old, enriched.owner, url)
        summary = f"builds {past_tense(word)}\ttask {task['id']} ({task.label})"
    return message.add(*enriched.details), summary
