"""Durations and ETAs for builds and tasks.

Method:
- A package's expected build time is the hub's ``getAverageBuildDuration``. Container
  builds (``*-container``) vary with their base images, so for them it is the mean of the
  last five COMPLETE builds, computed here.
- A running build, build task or buildArch task ends at start + that average: a build
  lasts as long as its longest buildArch, which is what the average measures.
- A task still in the queue (FREE, or ASSIGNED but not started) first waits for room in its
  channel. Room is the summed capacity of the channel's enabled, ready hosts; ahead of the
  task are the hosts' current load and the weights of queued tasks before it (priority,
  then age). If that all fits in the capacity it starts now; otherwise it waits one average
  duration per full turn of the capacity. With no ready host there is no estimate.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from txkoji import times
from txkoji.build import Build
from txkoji.exceptions import KojiException
from txkoji.states import BuildState, TaskState
from txkoji.task import Task

CONTAINER_SAMPLE = 5
BUILD_METHODS = frozenset({"build", "buildArch", "buildContainer", "buildSRPMFromSCM"})


def is_container(package: str) -> bool:
    return package.endswith("-container")


def _recent_builds_call(package: str) -> tuple[tuple, dict]:
    return ((), {"packageID": package, "state": int(BuildState.COMPLETE),
                 "queryOpts": {"order": "-completion_time", "limit": CONTAINER_SAMPLE}})


def mean_duration(builds: Iterable[Build]) -> timedelta | None:
    """The mean duration of the builds that have one."""
    durations = [build.duration for build in builds if build.duration is not None]
    if not durations:
        return None
    return sum(durations, timedelta()) / len(durations)


async def average_build_duration(koji: Any, package: str) -> timedelta | None:
    """How long a build of ``package`` usually takes; None if the hub has no history."""
    if is_container(package):
        args, kwargs = _recent_builds_call(package)
        return mean_duration(await koji.listBuilds(*args, **kwargs))
    return await koji.getAverageBuildDuration(package)


async def average_build_durations(koji: Any, packages: Iterable[str]) -> dict[str, Any]:
    """``average_build_duration`` for many packages in one MultiCall request."""
    names = list(dict.fromkeys(packages))
    multicall = koji.MultiCall()
    for package in names:
        if is_container(package):
            args, kwargs = _recent_builds_call(package)
            multicall.listBuilds(*args, **kwargs)
        else:
            multicall.getAverageBuildDuration(package)
    results = await multicall()
    averages: dict[str, Any] = {}
    for index, package in enumerate(names):
        try:
            value = results[index]
        except KojiException:
            value = None
        averages[package] = mean_duration(value) if is_container(package) else value
    return averages


async def estimate_completion(koji: Any, item: Build | Task,
                              now: datetime | None = None) -> datetime | None:
    """When a running build or task should end; its completion time if it has ended."""
    now = now or times.utcnow()
    if item.completed is not None:
        return item.completed
    if isinstance(item, Build):
        if item.get("state") != BuildState.BUILDING or not item.package_name:
            return None
        average = await average_build_duration(koji, item.package_name)
        return _after(item.started, average)
    if item.method not in BUILD_METHODS or not item.package:
        return None
    average = await average_build_duration(koji, item.package)
    if item.started is not None:
        return _after(item.started, average)
    wait = await queue_wait(koji, item, average)
    return None if wait is None else _after(now + wait, average)


def _after(start: datetime | None, average: timedelta | None) -> datetime | None:
    if start is None or average is None:
        return None
    return start + average


async def queue_wait(koji: Any, task: Task, average: timedelta | None) -> timedelta | None:
    """How long a queued task should wait before a host takes it (see the module's method)."""
    if task.get("state") not in (TaskState.FREE, TaskState.ASSIGNED) or average is None:
        return None
    channel_id = task.get("channel_id")
    multicall = koji.MultiCall()
    multicall.listHosts(channelID=channel_id, enabled=True, ready=True)
    multicall.listTasks(opts={"state": [int(TaskState.FREE)], "channel_id": channel_id},
                        queryOpts={"order": "priority"})
    hosts, queued = list(await multicall())
    capacity = sum(host.get("capacity") or 0.0 for host in hosts)
    if capacity <= 0:
        return None
    load = sum(host.get("task_load") or 0.0 for host in hosts)
    return wait_for_room(capacity, load, queued, task, average)


def wait_for_room(capacity: float, load: float, queued: Iterable[dict], task: dict,
                  average: timedelta) -> timedelta:
    """The pure part of ``queue_wait``: turns of ``capacity`` needed before ``task`` fits."""
    rank = (task.get("priority") or 0, task["id"])
    ahead = sum(other.get("weight") or 0.0 for other in queued
                if (other.get("priority") or 0, other["id"]) < rank)
    excess = load + ahead + (task.get("weight") or 0.0) - capacity
    if excess <= 0:
        return timedelta()
    return average * math.ceil(excess / capacity)
