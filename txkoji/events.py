"""Koji message-bus events as typed values: what txkoji.messages.parse gives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from txkoji.build import Build
from txkoji.task import Task


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """What every event carries. ``dedupe_key`` is the same for redeliveries of one event.
    ``instance`` and ``hub_host`` tell which hub sent it, where the message says (Fedora's
    messages name the hub's instance and its web address)."""
    kind: ClassVar[str] = "event"
    routing_key: str
    dedupe_key: str
    message_id: str | None = None
    instance: str | None = None
    hub_host: str | None = None


@dataclass(frozen=True, slots=True)
class BuildStateChange(Event):
    """A build changed state (BUILDING, COMPLETE, FAILED, CANCELED, DELETED)."""
    kind: ClassVar[str] = "build_state"
    build: Build = field(hash=False)
    old: str | None
    new: str
    owner: str | None


@dataclass(frozen=True, slots=True)
class TaskStateChange(Event):
    """A task changed state; ``owner`` is a name when the message has one, ``owner_id`` an id."""
    kind: ClassVar[str] = "task_state"
    task: Task = field(hash=False)
    old: str | None
    new: str
    owner: str | None
    owner_id: int | None


@dataclass(frozen=True, slots=True)
class TagChange(Event):
    """A build was tagged into (``action='tag'``) or untagged from a tag, by ``user``."""
    kind: ClassVar[str] = "tag"
    action: str
    build: Build = field(hash=False)
    tag: str
    user: str | None


@dataclass(frozen=True, slots=True)
class PackageListChange(Event):
    """A tag's package list changed: add, update, block, unblock or remove ``package``."""
    kind: ClassVar[str] = "package_list"
    action: str
    package: str
    tag: str
    owner: str | None
    owner_id: int | None = None
    user: str | None = None


@dataclass(frozen=True, slots=True)
class RepoChange(Event):
    """A tag's repo was initialized (``action='init'``) or finished (``'done'``)."""
    kind: ClassVar[str] = "repo"
    action: str
    tag: str
    repo_id: int | None
