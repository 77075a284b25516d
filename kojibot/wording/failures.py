"""Where a build task tree failed, in words: the failed arch, a link to its build.log, and
why. No I/O: the hub is asked in kojibot.lookups.

Kojid uploads each task's logs to ``<topurl>/work/tasks/<id % 10000>/<id>/``; the hub's
``listTaskOutput`` says which files a task left there, so a link is only given for a log
the hub really holds. The reason comes from the tails of those logs (wording.logreasons).
"""

from __future__ import annotations

from dataclasses import dataclass

from kojibot.chat.message import Part, link
from kojibot.wording import logreasons
from txkoji.limits import cap
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
