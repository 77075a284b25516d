"""Where a build task tree failed: the failed arch and a link to its build.log.

Kojid uploads each task's logs to ``<topurl>/work/tasks/<id % 10000>/<id>/``; the hub's
``listTaskOutput`` says which files a task left there, so a link is only given for a log
the hub really holds.
"""

from __future__ import annotations

from typing import Any

from kojibot.chat.message import Part, link
from txkoji.states import TaskState
from txkoji.task import Task

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
    """The failed arch(es) under ``task_id`` with their build.log links (two requests)."""
    if task_id is None:
        return []
    failed = failed_children(await koji.getTaskChildren(task_id))
    if not failed:
        return []
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
    return detail_parts(failed, outputs, koji.topurl)
