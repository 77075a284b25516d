"""Where a build task tree failed: the failed arch, a link to its build.log, and why.

Kojid uploads each task's logs to ``<topurl>/work/tasks/<id % 10000>/<id>/``; the hub's
``listTaskOutput`` says which files a task left there, so a link is only given for a log
the hub really holds. The reason comes from the tails of those logs (wording.logreasons),
read through ``downloadTaskOutput`` in bounded pieces and kept per task.
"""

from __future__ import annotations

import base64
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from kojibot.chat.message import Part, link, text
from kojibot.wording import logreasons
from txkoji.limits import cap
from txkoji.states import BuildState, TaskState
from txkoji.task import Task

TAIL = 64 * 1024  # bytes read from the end of each log
CACHED = 512  # failed tasks whose reason is remembered

SHOWN = 3
LOG_NAME = "build.log"
SRPM_METHODS = frozenset({"buildSRPMFromSCM", "rebuildSRPM"})


def task_dir(task_id: int) -> str:
    return f"tasks/{task_id % 10000}/{task_id}"


def log_url(topurl: str, task_id: int, name: str = LOG_NAME) -> str:
    return f"{topurl.rstrip('/')}/work/{task_dir(task_id)}/{name}"


def failed_children(children: list[Task]) -> list[Task]:
    """The failed subtasks, buildArch ones first, then by arch."""
    failed = [child for child in children if child.get("state") == TaskState.FAILED]
    return sorted(failed, key=lambda child: (child.method != "buildArch", child.arch or "",
                                             child["id"]))


def first_failed(children: list[Task]) -> Task | None:
    """The failed subtask that failed first: the leaf whose logs say why."""
    failed = [child for child in children if child.get("state") == TaskState.FAILED]
    return min(failed, key=lambda child: (child.get("completion_ts") or 0, child["id"]),
               default=None)


def where(task: Task) -> str:
    """``aarch64``, or ``SRPM`` for the source-RPM stage."""
    if task.method in SRPM_METHODS:
        return "SRPM"
    return task.arch or task.method or f"task {task['id']}"


def detail_parts(failed: list[Task], outputs: dict[int, list[str]],
                 topurl: str | None) -> list[Part]:
    """`` — failed: aarch64 (build.log: URL), x86_64`` as message parts."""
    parts: list[Part] = [" — failed:"]
    for index, task in enumerate(failed[:SHOWN]):
        parts.append(("," if index else "") + f" {where(task)}")
        if topurl and LOG_NAME in outputs.get(task["id"], ()):
            parts.extend([f" ({LOG_NAME}: ", link(log_url(topurl, task["id"])), ")"])
    if len(failed) > SHOWN:
        parts.append(f" +{len(failed) - SHOWN} more")
    return parts


async def failure_details(koji: Any, task_id: int | None) -> list[Part]:
    """The failed arch(es) under ``task_id`` with their build.log links, then why."""
    if task_id is None:
        return []
    children = await koji.getTaskChildren(task_id)
    failed = failed_children(children)
    if not failed:
        return []
    try:
        why = await reasons_of(koji).of_leaf(first_failed(children))
    except Exception:  # noqa: BLE001 - the logs unreadable: the line goes without why
        why = None
    outputs: dict[int, list[str]] = {}
    if koji.topurl:
        multicall = koji.MultiCall()
        for task in failed[:SHOWN]:
            multicall.listTaskOutput(task["id"])
        results = await multicall()
        for index, task in enumerate(failed[:SHOWN]):
            try:
                outputs[task["id"]] = list(results[index] or ())
            except Exception:  # noqa: BLE001 - one fault only costs that link
                outputs[task["id"]] = []
    return detail_parts(failed, outputs, koji.topurl) + (why.parts(koji.topurl) if why else [])


@dataclass
class Why:
    """Why one task failed: a reason read from a log, else the task's fault string."""

    task: Task  # the failed leaf (or the canceled task)
    reason: str | None = None
    log: str | None = None  # the log the reason is in, or the one to read
    fault: str | None = None
    canceled: bool = False

    @property
    def where(self) -> str:
        return where(self.task)

    def words(self) -> str:
        if self.canceled:
            return "canceled"
        if self.reason:
            return self.reason
        return self.fault or "no fault recorded"

    def parts(self, topurl: str | None, always_link: bool = False) -> list[Part]:
        """`` — why: REASON (root.log: URL)``; the fault string when the shape is unknown."""
        if not (self.reason or self.fault or self.canceled):
            return []  # nothing recorded, nothing read: say nothing rather than guess
        label = "why" if self.reason or self.canceled else "fault"
        parts: list[Part] = [f" — {label}: {cap(self.words(), logreasons.LONGEST)}"]
        if topurl and self.log and (always_link or self.log != LOG_NAME):
            parts.extend([f" ({self.log}: ", link(log_url(topurl, self.task["id"], self.log)),
                          ")"])
        return parts


class Reasons:
    """Failure reasons of one hub, cached per failed task; at most ``TAIL`` bytes a log.

    Three requests at most: the task and its children, the leaf's result and log list,
    then one MultiCall for the log tails."""

    def __init__(self, koji: Any, tail: int = TAIL):
        self.koji = koji
        self.tail = tail
        self.cache: OrderedDict[int, Why] = OrderedDict()
        self.bytes_read = 0

    async def __call__(self, task_id: int) -> Why | None:
        """Why ``task_id`` (a build task or one of its subtasks) failed; None if it did not."""
        multicall = self.koji.MultiCall()
        multicall.getTaskInfo(task_id)
        multicall.getTaskChildren(task_id)
        task, children = await multicall()
        if task is None:
            return None
        leaf = first_failed(children)
        if leaf is None and task.get("state") == TaskState.FAILED:
            leaf = task
        elif leaf is None:
            return Why(task, canceled=True) if task.get("state") == TaskState.CANCELED else None
        return await self.of_leaf(leaf)

    async def of_leaf(self, leaf: Task) -> Why:
        """Why the failed task *leaf* failed, read once and then remembered."""
        if leaf["id"] in self.cache:
            self.cache.move_to_end(leaf["id"])
            return self.cache[leaf["id"]]
        why = await self._read(leaf)
        self.cache[leaf["id"]] = why
        while len(self.cache) > CACHED:
            self.cache.popitem(last=False)
        return why

    async def _read(self, leaf: Task) -> Why:
        multicall = self.koji.MultiCall()
        multicall.getTaskResult(leaf["id"], False)
        multicall.listTaskOutput(leaf["id"], True)
        results = await multicall()
        try:
            result = results[0]
        except Exception:  # noqa: BLE001 - a result the hub cannot give: no fault to show
            result = None
        fault = result.get("faultString") if isinstance(result, dict) else None
        try:
            files = dict(results[1] or {})
        except Exception:  # noqa: BLE001 - no list of logs: the fault alone
            files = {}
        names = [name for name in logreasons.LOG_NAMES if name in files]
        logs = await self._tails(leaf["id"], names, files)
        found = logreasons.reason(logs)
        if found:
            return Why(leaf, found[0], found[1], fault)
        return Why(leaf, None, LOG_NAME if LOG_NAME in files else (names or [None])[0],
                   logreasons.clean(fault) if fault else None)

    async def _tails(self, task_id: int, names: list[str], files: dict) -> dict[str, str]:
        if not names:
            return {}
        multicall = self.koji.MultiCall()
        offsets = []
        for name in names:
            size = int((files[name] or {}).get("st_size") or 0)
            offsets.append(max(0, size - self.tail))
            multicall.downloadTaskOutput(task_id, name, offsets[-1], self.tail)
        results = await multicall()
        logs = {}
        for index, name in enumerate(names):
            try:
                data = base64.b64decode(results[index])
            except Exception:  # noqa: BLE001 - one unreadable log costs only that log
                continue
            self.bytes_read += len(data)
            text = data.decode("utf-8", "replace")
            if offsets[index]:
                text = text.partition("\n")[2]  # the first line was cut
            logs[name] = text
        return logs


_REASONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def reasons_of(koji: Any) -> Reasons:
    """The one Reasons (and cache) of a hub connection."""
    found = _REASONS.get(koji)
    if found is None:
        found = _REASONS[koji] = Reasons(koji)
    return found


async def why_answer(koji: Any, ref: int | str) -> Any:
    """``!why``'s line: why a task (by id) or a build (by NVR or id) failed, with its log."""
    subject = f"Task {ref}"
    task_id: int | None = None
    if isinstance(ref, int) or str(ref).isdigit():
        task_id = int(ref)
    else:
        build = await koji.getBuild(ref)
        if build is None:
            return text(f"No such build: {ref}")
        subject, task_id = str(build.get("nvr") or ref), build.get("task_id")
        if build.get("state") not in (BuildState.FAILED, BuildState.CANCELED):
            return text(f"{subject} did not fail: it is {build.state_name}.")
        if task_id is None:
            return text(f"{subject} has no task on the hub to read logs from.")
    try:
        why = await reasons_of(koji)(task_id)
    except Exception:  # noqa: BLE001 - the logs unreadable: the line goes without why
        why = None
    if why is None:
        task = await koji.getTaskInfo(task_id)
        if task is None:
            return text(f"No such task: {task_id}")
        return text(f"Task {task_id} did not fail: it is {task.state_name}.")
    line = text(f"{subject} " + ("was canceled" if why.canceled else f"failed on {why.where}")
                + ("" if why.canceled else f": {why.words()}"))
    if koji.topurl and why.log and not why.canceled:
        line.add(f" — {why.log}: ", link(log_url(koji.topurl, why.task["id"], why.log)))
    return line
