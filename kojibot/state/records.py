"""What the state holds, as plain values: the rows of its tables as the bot uses them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Subscription:
    network: str
    room: str
    kind: str  # "package", "tag" or "owner"
    pattern: str  # a name or a glob
    events: frozenset[str]
    id: int | None = None
    created_by: str | None = None


@dataclass(frozen=True)
class OutboxEntry:
    """A message to queue: where it goes, a short summary for digests, the message parts,
    and the chat line it updates, if any (``build 123``: a later message about the same build
    edits the first one where the network can)."""

    network: str
    target: str
    direct: bool
    summary: str
    message: list
    line: str | None = None


@dataclass(frozen=True)
class OutboxRow:
    id: int
    network: str
    target: str
    direct: bool
    summary: str  # a short form of the event for digest lines
    message_json: str  # the message parts as stored (see kojibot.chat.message.to_json)
    created: float
    line: str | None = None  # the chat line this row updates (OutboxEntry.line)

    @property
    def message(self) -> list:
        """The message parts, read only when the row goes out as its own line (a row that
        goes into a digest is not parsed at all)."""
        return json.loads(self.message_json)


@dataclass(frozen=True)
class Person:
    """Someone the bot sends DMs to. ``identity`` is lower-case (account, nick or user id);
    ``contact`` is where a DM reaches them (the nick as last seen on IRC)."""

    network: str
    identity: str
    contact: str
    koji_user: str | None = None
    linked_by: str | None = None


@dataclass(frozen=True)
class Alert:
    """A person's DM alert: builds of their linked Koji user (kind "owner", pattern "") or
    of a package (kind "package", pattern a name or glob). ``tag`` is only set on alerts
    read from the hub (a Koji build notification for one tag): then the build's
    destination tag must be that tag, as Koji's own notifications have it."""

    network: str
    identity: str
    kind: str
    pattern: str
    events: frozenset[str]
    tag: str | None = None


@dataclass
class WatchRecord:
    """A watch on one task tree or build. ``states`` maps a task id to ``[parent id,
    state number]`` as last known (for a build: its id to ``[task id, state]``; for a
    buildroot watch, kind "repo", see kojibot.personal.buildroot); ``room`` None means
    report in a DM, else mention ``asker`` there. ``tag``: a buildroot watch's tag."""

    network: str
    identity: str
    asker: str
    room: str | None
    kind: str  # "task", "build" or "repo"
    ref: int
    label: str
    states: dict[int, list] = field(default_factory=dict)
    id: int | None = None
    created: float = 0.0
    tag: str | None = None


class Fence(Protocol):
    """The lead this process holds (kojibot.state.lease.Lease)."""

    term: int | None

    def lost(self, why: str) -> None:
        """Step down: the lead went to another kojibot."""


class LeaseLost(Exception):
    """A write was refused: another kojibot leads now."""


@dataclass(frozen=True)
class Snapshot:
    """The rows the bot's in-memory indexes are built from when it starts."""

    subscriptions: list[Subscription]
    people: list[Person]
    alerts: list[Alert]
    watches: list[WatchRecord]
