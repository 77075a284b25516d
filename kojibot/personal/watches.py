"""Watches without I/O: what a watch knows, how news merges into it, when it is done, and
when the hub is next asked about it.

A watch keeps the last known state of each task in its tree (or of its build). Bus events
and hub polls merge in by one rule: a state only moves forward (FREE → ASSIGNED → OPEN →
CLOSED/FAILED/CANCELED; BUILDING → the rest), and a final state never changes. So an old
or redelivered event, whatever order it arrives in, cannot undo newer news. A task watch is
done when its root task and every task known under it are final.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kojibot.state.records import WatchRecord
from txkoji.states import BuildState, TaskState, state_name

TASK_RANK = {TaskState.FREE: 0, TaskState.ASSIGNED: 1, TaskState.OPEN: 2,
             TaskState.CLOSED: 3, TaskState.CANCELED: 3, TaskState.FAILED: 3}
BUILD_RANK = {BuildState.BUILDING: 0, BuildState.COMPLETE: 1, BuildState.DELETED: 1,
              BuildState.FAILED: 1, BuildState.CANCELED: 1}
FINAL = {"task": 3, "build": 1}

Observation = tuple[int, int | None, int]  # (task or build id, parent task id, state)


def _rank(kind: str, state: int) -> int:
    return (TASK_RANK if kind == "task" else BUILD_RANK).get(state, -1)


def merge(watch: WatchRecord, ident: int, parent: int | None, state: int) -> bool:
    """Fold one observed state into the watch; True if it learned something."""
    known = watch.states.get(ident)
    if known is not None and _rank(watch.kind, known[1]) >= _rank(watch.kind, state):
        if parent is not None and known[0] is None:
            known[0] = parent
            return True
        return False
    watch.states[ident] = [parent if parent is not None or known is None else known[0],
                           int(state)]
    return True


def merge_all(watch: WatchRecord, observations: Iterable[Observation]) -> bool:
    changed = False
    for ident, parent, state in observations:
        changed = merge(watch, ident, parent, state) or changed
    return changed


def is_final(watch: WatchRecord, ident: int) -> bool:
    known = watch.states.get(ident)
    return known is not None and _rank(watch.kind, known[1]) >= FINAL[watch.kind]


def is_done(watch: WatchRecord) -> bool:
    """The root is final and so is everything known under it."""
    return is_final(watch, watch.ref) and all(
        _rank(watch.kind, state) >= FINAL[watch.kind] for _, state in watch.states.values())


def root_state(watch: WatchRecord) -> str | None:
    known = watch.states.get(watch.ref)
    if known is None:
        return None
    return state_name(TaskState if watch.kind == "task" else BuildState, known[1])


def observations(kind: str, values: list[Any]) -> list[Observation] | None:
    """What the hub's answers to ``check_calls`` say; None if the task or build is gone.
    A build's "parent" is its task."""
    if kind == "build":
        build = values[0]
        return None if not build else [(build["id"], build.get("task_id"), build["state"])]
    task, descendants = values
    if not task:
        return None
    found: list[Observation] = [(task["id"], task.get("parent"), task["state"])]
    found.extend((child["id"], child.get("parent"), child["state"])
                 for child in descendants or ())
    return found


def check_calls(kind: str, ref: int | str) -> list[tuple[str, tuple]]:
    """The hub calls that tell a watch's state (a build by id or NVR; the subtasks'
    requests are left out)."""
    if kind == "build":
        return [("getBuild", (ref,))]
    return [("getTaskInfo", (ref, True)), ("getTaskDescendents", (ref, False))]


def label(kind: str, record: dict) -> str:
    """``task 123 (build bash)`` or ``build bash-5.2-1.fc41``."""
    if kind == "build":
        return f"build {record.get('nvr')}"
    what = " ".join(str(word) for word in (record.get("method"), _task_subject(record))
                    if word)
    return f"task {record['id']} ({what})" if what else f"task {record['id']}"


def _task_subject(record: dict) -> str | None:
    subject = getattr(record, "label", None)
    return subject if subject and subject != record.get("method") else None


# Seconds between the prompt checks that follow news of a watch's end: the hub records the
# end a moment after the bus tells of it (kojid closes a build task after completeBuild).
PROMPT_DELAYS = (0.0, 0.5, 1.0, 1.0, 2.0, 2.0, 4.0, 8.0)


class PollSchedule:
    """When each watch is next checked against the hub, within fixed bounds.

    Per watch: at most one check per ``interval`` (later when the bus brings news of it).
    In total: at most ``batch`` watches per round, one hub request per round, rounds at
    least ``gap`` seconds apart. News that a watch is ending (``prompt``) starts a short
    series of checks at ``PROMPT_DELAYS`` that need not wait for the gap: each piece of
    news brings at most that many checks, so the hub's load stays bounded by the bus's.
    """

    def __init__(self, interval: float, batch: int, gap: float | None = None):
        self.interval = interval
        self.batch = batch
        self.gap = gap if gap is not None else max(1.0, interval / 10)
        self.due_at: dict[int, float] = {}
        self.last_round: float | None = None
        self.prompt_at: dict[int, tuple[float, int]] = {}  # watch -> (when, checks done)

    def __len__(self) -> int:
        return len(self.due_at)

    def plan(self, watch_id: int, now: float, soon: bool = False) -> None:
        """Check the watch one interval from now (or one gap from now, if ``soon``)."""
        self.due_at[watch_id] = now + (self.gap if soon else self.interval)

    def prompt(self, watch_id: int, now: float) -> None:
        """News says the watch is ending: check it now, then at ``PROMPT_DELAYS`` while it
        has not ended."""
        if watch_id in self.due_at:
            self.prompt_at[watch_id] = (now, 0)

    def checked(self, watch_id: int, now: float) -> None:
        """A round checked the watch and it goes on: its next prompt check, if any left."""
        when_done = self.prompt_at.pop(watch_id, None)
        if when_done is not None and when_done[0] <= now:
            done = when_done[1] + 1
            if done < len(PROMPT_DELAYS):
                self.prompt_at[watch_id] = (now + PROMPT_DELAYS[done], done)
        elif when_done is not None:
            self.prompt_at[watch_id] = when_done

    def drop(self, watch_id: int) -> None:
        self.due_at.pop(watch_id, None)
        self.prompt_at.pop(watch_id, None)

    def due(self, now: float) -> list[int]:
        """The watches to check in a round starting now: prompt ones, then the most overdue."""
        prompt = sorted((when, ident) for ident, (when, _) in self.prompt_at.items()
                        if when <= now)
        ready = [(when, ident) for ident, when in self.due_at.items()
                 if when <= now and ident not in self.prompt_at]
        return [ident for _, ident in (prompt + sorted(ready))[:self.batch]]

    def next_round(self, now: float) -> float | None:
        """Seconds until the next round should start; None with nothing to watch."""
        if not self.due_at:
            return None
        earliest = min(self.due_at.values())
        if self.last_round is not None:
            earliest = max(earliest, self.last_round + self.gap)
        if self.prompt_at:
            earliest = min(earliest, min(when for when, _ in self.prompt_at.values()))
        return max(0.0, earliest - now)
