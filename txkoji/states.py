"""Koji's build and task state numbers, and their names."""

from __future__ import annotations

from enum import IntEnum


class BuildState(IntEnum):
    BUILDING = 0
    COMPLETE = 1
    DELETED = 2
    FAILED = 3
    CANCELED = 4


class TaskState(IntEnum):
    FREE = 0
    OPEN = 1
    CLOSED = 2
    CANCELED = 3
    ASSIGNED = 4
    FAILED = 5


OPEN_TASK_STATES = frozenset({TaskState.FREE, TaskState.OPEN, TaskState.ASSIGNED})


def state_name(enum: type[IntEnum], value: int | str | None) -> str | None:
    """The state's name for a number or a name (bus messages carry either); None if unknown."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.upper() if value.upper() in enum.__members__ else None
    try:
        return enum(value).name
    except ValueError:
        return None
