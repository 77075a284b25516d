"""Hub look-ups in one place: the answers about hub records (commands, pasted links,
watch reports) and why a build failed (alerts, ``why`` subscriptions, ``!why``).

What is worth keeping between calls (a failed task's reason, read once from its logs) is
held by a :class:`Lookups` object, one per hub connection, not by the module. The words
themselves are kojibot.wording's, which does no I/O.
"""

from __future__ import annotations

import base64
from collections import OrderedDict
from typing import Any

from kojibot.chat.message import Message, Part, link, text
from kojibot.wording import logreasons
from kojibot.wording.describe import build_line, task_line, user_line
from kojibot.wording.failures import (
    LOG_NAME,
    SHOWN,
    Why,
    detail_parts,
    failed_children,
    first_failed,
    log_url,
)
from txkoji import estimates, web
from txkoji.states import BuildState, TaskState
from txkoji.task import Task
from txkoji.times import utcnow

TAIL = 64 * 1024  # bytes read from the end of each log
CACHED = 512  # failed tasks whose reason is remembered
NOTIFIED_METHODS = ("build", "maven")  # the tasks whose target Koji's notifications read


async def task_answer(koji: Any, task_id: int) -> Message:
    """The task's line; shared with pasted kojiweb links and watches."""
    multicall = koji.MultiCall()
    multicall.getTaskInfo(task_id)
    multicall.getTaskChildren(task_id)
    task, children = await multicall()
    if task is None:
        return text(f"No such task: {task_id}")
    owner = await koji.cache.user_name(task["owner"]) if task.get("owner") else None
    eta = await estimates.estimate_completion(koji, task) if task.is_open else None
    return task_line(task, owner, children, eta, utcnow())


async def build_answer(koji: Any, ref: int | str) -> Message:
    """The build's line; shared with pasted kojiweb links and watches."""
    multicall = koji.MultiCall()
    multicall.getBuild(ref)
    multicall.listTags(build=ref)
    results = await multicall()
    build = results[0]
    if build is None:
        return text(f"No such build: {ref}")
    tags = results[1]
    eta = None
    if build.get("state") == BuildState.BUILDING:
        eta = await estimates.estimate_completion(koji, build)
    return build_line(build, sorted(tag["name"] for tag in tags), eta, utcnow())


async def user_answer(koji: Any, ref: int | str) -> Message:
    user = await koji.getUser(ref)
    if not user:
        return text(f"No such user: {ref}")
    url = web.page_url(koji.weburl, "userinfo", user["id"]) if koji.weburl else None
    return user_line(user, url)


class Reasons:
    """Failure reasons of one hub, cached per failed task; at most ``tail`` bytes a log.

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
            log_text = data.decode("utf-8", "replace")
            if offsets[index]:
                log_text = log_text.partition("\n")[2]  # the first line was cut
            logs[name] = log_text
        return logs


class Lookups:
    """The look-ups of one hub connection that keep a cache: why tasks failed."""

    def __init__(self, koji: Any, tail: int = TAIL):
        self.koji = koji
        self.reasons = Reasons(koji, tail)

    async def why_parts(self, task_id: int | None) -> list[Part]:
        """`` — why: REASON (log: URL)`` of a failed build's task, for a channel line."""
        if task_id is None:
            return []
        why = await self.reasons(task_id)
        return why.parts(self.koji.topurl, always_link=True) if why else []

    async def destination_tag(self, task_id: int) -> str | None:
        """The destination tag of a build task's target, as Koji's build notifications
        match it (None for other tasks, or a target since deleted)."""
        task = await self.koji.getTaskInfo(task_id, request=True)
        if task is None or task.method not in NOTIFIED_METHODS or not task.target:
            return None
        target = await self.koji.getBuildTarget(task.target)
        return target["dest_tag_name"] if target else None

    async def failure_details(self, task_id: int | None) -> list[Part]:
        """The failed arch(es) under ``task_id`` with their build.log links, then why."""
        if task_id is None:
            return []
        koji = self.koji
        children = await koji.getTaskChildren(task_id)
        failed = failed_children(children)
        if not failed:
            return []
        try:
            why = await self.reasons.of_leaf(first_failed(children))
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
        return detail_parts(failed, outputs, koji.topurl) + \
            (why.parts(koji.topurl) if why else [])


async def why_answer(lookups: Lookups, ref: int | str) -> Message:
    """``!why``'s line: why a task (by id) or a build (by NVR or id) failed, with its log."""
    koji = lookups.koji
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
        why = await lookups.reasons(task_id)
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
