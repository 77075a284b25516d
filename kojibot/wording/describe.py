"""Koji records as one-line messages: the wording shared by commands, links and alerts.

A bus event's line (and a digest of them) is one IRC line plus, where it does not fit
beside the words, its link on a second (kojibot.wording.oneline).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from kojibot.chat.message import Message, bold, link, state, text
from kojibot.wording import timefmt
from kojibot.wording.eventnames import EVENT_OF_PACKAGE_ACTION, EVENT_OF_STATE, past_tense
from kojibot.wording.oneline import fit, link_fits
from txkoji.build import Build
from txkoji.events import BuildStateChange, PackageListChange, TagChange
from txkoji.states import TaskState
from txkoji.task import Task
from txkoji.web import page_url


def _times(item: Build | Task, eta: datetime | None, now: datetime) -> str:
    """Each time fact once: `` in 1h 01m, ended 2026-03-14 10:02 UTC`` for what ended,
    ``, running 12m 05s, ETA 10:45 UTC (in 20m)`` for what runs, when it was asked for what
    waits."""
    if item.completed:
        took = f" in {timefmt.duration(item.duration)}" if item.duration is not None else ""
        return f"{took}, ended {timefmt.moment(item.completed)}"
    if item.started:
        parts = [f"running {timefmt.duration(now - item.started)}"]
    elif getattr(item, "created", None):
        parts = [f"waiting since {timefmt.moment(item.created)}"]
    else:
        parts = []
    if eta is not None:
        parts.append(f"ETA {timefmt.clock(eta, now)} ({timefmt.relative(eta, now)})")
    return "".join(f", {part}" for part in parts)


def children_summary(children: list[Task]) -> str | None:
    """``3/4 buildArch closed, 1 failed: aarch64`` for a build task's buildArch children."""
    arches = [child for child in children if child.method == "buildArch"]
    if not arches:
        return None
    closed = sum(1 for child in arches if child.get("state") == TaskState.CLOSED)
    summary = f"{closed}/{len(arches)} buildArch closed"
    for name in ("FAILED", "CANCELED"):
        hit = sorted(child.arch or "?" for child in arches
                     if child.get("state") == TaskState[name])
        if hit:
            summary += f", {len(hit)} {name.lower()}: {' '.join(hit)}"
    running = sum(1 for child in arches if child.is_open)
    if running:
        summary += f", {running} running"
    return summary


def task_line(task: Task, owner: str | None, children: list[Task],
              eta: datetime | None, now: datetime) -> Message:
    label = task.label if task.label != task.method else None
    head = f"{task.method} {label}" if label else task.method
    if task.is_scratch:
        head += " (scratch)"
    message = text(bold(f"Task {task['id']}"), f" {head}")
    if task.arch:
        message.add(f" [{task.arch}]")
    message.add(" ", state(task.state_name), f" by {owner or task.get('owner')}",
                _times(task, eta, now))
    summary = children_summary(children)
    if summary:
        message.add(f" — {summary}")
    if task.url:
        message.add(" — ", link(task.url))
    return message


def build_line(build: Build, tags: list[str], eta: datetime | None,
               now: datetime) -> Message:
    message = text(bold(f"Build {build.nvr}"), " ", state(build.state_name),
                   f" by {build.get('owner_name') or build.get('owner_id')}",
                   _times(build, eta, now))
    if build.task_id:
        message.add(f", task {build.task_id}")
    message.add(f", tags: {' '.join(tags)}" if tags else ", no tags")
    if build.url:
        message.add(" — ", link(build.url))
    return message


USER_STATUS = {0: "NORMAL", 1: "BLOCKED"}
USER_TYPE = {0: "user", 1: "host", 2: "group"}


def user_line(user: dict, url: str | None) -> Message:
    kind = USER_TYPE.get(user.get("usertype"), "user")
    status = USER_STATUS.get(user.get("status"), str(user.get("status")))
    principals = user.get("krb_principals") or (
        [user["krb_principal"]] if user.get("krb_principal") else [])
    message = text(bold(f"User {user['name']}"), f" (id {user['id']}, {kind}) {status}")
    message.add(f", Kerberos: {' '.join(principals)}" if principals else ", no Kerberos principal")
    if url:
        message.add(" — ", link(url))
    return message


# Bus events ------------------------------------------------------------------------------

def build_event_line(build: Build, new: str, old: str | None, owner: str | None,
                     url: str | None) -> Message:
    """``bash-5.2-1.fc41 COMPLETE (was BUILDING) by alice, took 25m 10s — link``."""
    message = text(bold(build.nvr), " ", state(new))
    if old and old != new:
        message.add(f" (was {old})")
    if owner:
        message.add(f" by {owner}")
    if new not in ("BUILDING", "DELETED"):
        message.add(_took(build.duration))
    return _event(message, url)


def _event(message: Message, url: str | None) -> Message:
    """An event's line: its words fitted to one IRC line, then its link if that fits one."""
    message = fit(message)
    if link_fits(url):
        message.add(" — ", link(url))
    return message


def _took(duration: timedelta | None) -> str | None:
    """``, took 3m 05s``; nothing for what took no time worth saying (an empty build)."""
    if duration is None or duration.total_seconds() < 1:
        return None
    return f", took {timefmt.duration(duration)}"


def tag_event_line(build: Build, action: str, tag: str, user: str | None,
                   url: str | None) -> Message:
    """``bash-5.2-1.fc41 tagged into f41-updates by bodhi — link``."""
    verb = "tagged into" if action == "tag" else "untagged from"
    message = text(bold(build.nvr), f" {verb} {tag}")
    if user:
        message.add(f" by {user}")
    return _event(message, url)


def package_list_line(event: PackageListChange, owner: str | None,
                      weburl: str | None) -> tuple[Message, str]:
    """``bash blocked in f41 by releng (owner alice) — link``, and its digest form."""
    word = EVENT_OF_PACKAGE_ACTION.get(event.action, event.action)
    place = "to" if event.action == "add" else "from" if event.action == "remove" else "in"
    message = text(bold(event.package), f" {word} {place} {event.tag}")
    if event.user:
        message.add(f" by {event.user}")
    if owner and event.action in ("add", "update"):
        message.add(f" (owner {owner})")
    url = page_url(weburl, "packageinfo", quote(event.package)) if weburl else None
    return _event(message, url), f"packages {word}\t{event.package} in {event.tag}"


def digest_line(summaries: list[str], shown: int = 3) -> Message:
    """Many events for one room as one line: ``12 builds completed: a, b, c +9 more``.

    A summary is ``"<what happened>\\t<subject>"`` (see ``kojibot.relay.router``).
    """
    pairs = [summary.partition("\t")[::2] for summary in summaries]
    verbs = {verb for verb, _ in pairs}
    if len(verbs) == 1:
        head = f"{len(pairs)} {verbs.pop()}: "
        items = [subject for _, subject in pairs]
    else:
        head = f"{len(pairs)} build events: "
        items = [f"{subject} {verb.split(' ', 1)[-1]}" for verb, subject in pairs]
    more = f" +{len(items) - shown} more" if len(items) > shown else ""
    return fit(text(head, *[("" if index == 0 else ", ") + item
                            for index, item in enumerate(items[:shown])], more))


def event_line(event: BuildStateChange | TagChange, owner: str | None,
               weburl: str | None) -> tuple[Message, str]:
    """A build or tag event's line, and its short form for digests (``builds failed\tNVR``)."""
    build = event.build
    url = page_url(weburl, "buildinfo", build.record_id) \
        if weburl and build.record_id is not None else None
    if isinstance(event, TagChange):
        verb = "builds tagged into" if event.action == "tag" else "builds untagged from"
        return (tag_event_line(build, event.action, event.tag, owner, url),
                f"{verb} {event.tag}\t{build.nvr}")
    verb = past_tense(EVENT_OF_STATE.get(event.new, event.new.lower()))
    return (build_event_line(build, event.new, event.old, owner, url),
            f"builds {verb}\t{build.nvr}")


def task_event_line(task: Any, new: str, old: str | None, owner: str | None,
                    url: str | None) -> Message:
    """``Task 123 build bash (scratch) FAILED (was OPEN) by alice, took 3m 05s — link``."""
    message = text(bold(f"Task {task['id']}"), f" {task.method} {task.label}")
    if task.is_scratch:
        message.add(" (scratch)")
    message.add(" ", state(new))
    if old and old != new:
        message.add(f" (was {old})")
    if owner:
        message.add(f" by {owner}")
    message.add(_took(task.duration))
    return _event(message, url)
