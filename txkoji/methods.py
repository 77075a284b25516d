"""What txkoji adds to particular hub methods: fuller requests and rich results.

Both single calls and MultiCall go through here, so a method gives the same rich result
either way. Results are chosen by the exact method name. Records (rich or plain) have their
texts capped (txkoji.limits); other answers, such as log contents, stay whole.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from txkoji import limits
from txkoji.build import Build
from txkoji.channel import Channel
from txkoji.package import Package
from txkoji.task import Task


def prepare(method: str, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """Ask the hub for the task request (decoded) wherever txkoji reads it."""
    if method in ("getTaskInfo", "getTaskDescendents", "getTaskChildren"):
        if len(args) < 2:
            kwargs = {"request": True, **kwargs}
    elif method == "listTasks":
        opts = dict(args[0] if args else kwargs.get("opts") or {})
        opts.setdefault("decode", True)
        if args:
            args = (opts, *args[1:])
        else:
            kwargs = {**kwargs, "opts": opts}
    return args, kwargs


def _one(cls) -> Callable[[Any, Any], Any]:
    """One record, or a list of them where the hub takes a list of ids."""
    def convert(value, conn):
        if isinstance(value, list):
            return [cls.from_info(item, conn) for item in value]
        return cls.from_info(value, conn)
    return convert


def _many(cls) -> Callable[[Any, Any], Any]:
    return lambda value, conn: [cls.from_info(item, conn) for item in value or []]


def _descendents(value: dict, conn: Any) -> list[Task]:
    """``{parent id: [children]}`` flattened into every descendant task, parents first."""
    tasks = [Task.from_info(info, conn) for children in (value or {}).values()
             for info in children]
    return sorted(tasks, key=lambda task: task["id"])


def _capped(fields: dict[str, float]) -> Callable[[Any, Any], Any]:
    return lambda value, conn: limits.capped(value, fields)


def _seconds(value: Any, conn: Any) -> timedelta | None:
    return None if value is None else timedelta(seconds=float(value))


RICH_RESULTS: dict[str, Callable[[Any, Any], Any]] = {
    "getBuild": _one(Build),
    "listBuilds": _many(Build),
    "listTagged": _many(Build),
    "getLatestBuilds": _many(Build),
    "getTaskInfo": _one(Task),
    "listTasks": _many(Task),
    "getTaskChildren": _many(Task),
    "getTaskDescendents": _descendents,
    "getPackage": _one(Package),
    "getChannel": _one(Channel),
    "getAverageBuildDuration": _seconds,
    **dict.fromkeys(("getUser", "listUsers"), _capped(limits.USER_FIELDS)),
    **dict.fromkeys(("getTag", "listTags", "getBuildTarget", "getBuildTargets", "getHost",
                     "listHosts"), _capped(limits.FIELDS)),
}


def enrich(method: str, value: Any, connection: Any) -> Any:
    """The rich form of ``method``'s result, or the plain Munch result."""
    convert = RICH_RESULTS.get(method)
    return value if convert is None else convert(value, connection)
