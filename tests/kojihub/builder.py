"""Plays the builder daemon against the real hub, so seeded task trees come from its API.

A logged-in host session opens tasks, spawns the same subtasks kojid would
(buildSRPMFromSCM, buildArch per arch, tagBuild, createrepo), and closes or fails them
with XML-RPC encoded results. Only what needs real RPM files (completeBuild) is replaced
by one UPDATE; the Timeline then moves finished trees onto known times.
"""

from __future__ import annotations

import xmlrpc.client
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .timeline import Timeline

BUILD_ERROR = 1005  # koji.BuildError


def result(value: object) -> str:
    """A task result as the hub stores it: an encoded XML-RPC method response."""
    return xmlrpc.client.dumps((value,), methodresponse=True, allow_none=True)


def failure(code: int, message: str) -> str:
    return xmlrpc.client.dumps(xmlrpc.client.Fault(code, message))


def task_dir(task_id: int) -> str:
    return f"tasks/{task_id % 10000}/{task_id}"


def logs(task_id: int, *names: str) -> list[str]:
    return [f"{task_dir(task_id)}/{name}" for name in names]


@dataclass
class Tree:
    """The tasks (and build) of one `build` task, as the builder made them."""

    task: int
    srpm: int = 0
    arches: dict[str, int] = field(default_factory=dict)
    build: int | None = None
    tag: int | None = None

    def task_keys(self, key: str) -> dict[str, int]:
        """Readable keys for facts: key, key.srpm, key.<arch>, key.tag."""
        keys = {key: self.task, f"{key}.srpm": self.srpm}
        keys.update({f"{key}.{arch}": tid for arch, tid in self.arches.items()})
        if self.tag:
            keys[f"{key}.tag"] = self.tag
        return keys


class Builder:
    """One exclusive host session doing the builder's part of each task."""

    def __init__(self, session, sql: Callable[[str], object], build_tag: int, dest_tag: int,
                 arches: list[str], timeline: Timeline):
        self.session = session
        self.host = session.host
        self.sql = sql
        self.build_tag = build_tag
        self.dest_tag = dest_tag
        self.arches = arches
        self.timeline = timeline
        self.repo_id: int | None = None

    def open(self, task_id: int) -> None:
        if not self.host.openTask(task_id):
            raise RuntimeError(f"host could not open task {task_id}")

    def subtask(self, parent: int, method: str, args: list, label: str,
                arch: str = "noarch") -> int:
        return self.host.subtask(method, args, parent, label=label, arch=arch)

    def close(self, task_id: int, value: object = None) -> None:
        self.host.closeTask(task_id, result(value))

    def new_repo(self, task_id: int, tag: str, done: tuple[str, ...]) -> dict[str, int]:
        """Open a newRepo task, init the repo, and run createrepo for the *done* arches."""
        self.open(task_id)
        self.repo_id, _event = self.host.repoInit(tag, task_id)
        children = {arch: self.subtask(task_id, "createrepo", [self.repo_id, arch, None],
                                       arch) for arch in self.arches}
        self.host.taskSetWait(task_id, list(children.values()))
        for arch, child in children.items():
            self.open(child)
            if arch in done:
                self.close(child, [f"repos/{tag}/{self.repo_id}/{arch}", ["repomd.xml"]])
        return children

    def build(self, task_id: int, nvr: tuple[str, str, str], src: str, outcome: str) -> Tree:
        """Run a `build` task up to *outcome*: building, complete, failed or scratch."""
        tree = Tree(task=task_id)
        self.open(task_id)
        tree.srpm = self.subtask(task_id, "buildSRPMFromSCM", [
            src, self.build_tag, {"repo_id": self.repo_id, "scratch": outcome == "scratch"}],
            "srpm")
        self.host.taskSetWait(task_id, [tree.srpm])
        self.open(tree.srpm)
        srpm = f"{task_dir(tree.srpm)}/{'-'.join(nvr)}.src.rpm"
        self.close(tree.srpm, {"srpm": srpm, "brootid": 0, "source": {"source": src, "url": src},
                               "logs": logs(tree.srpm, "build.log", "root.log")})
        self.host.taskWaitResults(task_id, [tree.srpm])
        if outcome != "scratch":
            name, version, release = nvr
            tree.build = self.host.initBuild({"name": name, "version": version,
                                              "release": release, "epoch": None,
                                              "task_id": task_id, "source": src})
        for arch in self.arches:
            tree.arches[arch] = self.subtask(task_id, "buildArch", [
                srpm, self.build_tag, arch, arch == self.arches[0], {"repo_id": self.repo_id}],
                arch, arch)
        self.host.taskSetWait(task_id, list(tree.arches.values()))
        for child in tree.arches.values():
            self.open(child)
        if outcome == "building":
            return tree
        *first, last = tree.arches.items()
        for arch, child in first:
            self.close(child, self.arch_result(child, nvr, arch))
        if outcome == "failed":
            message = (f"error building package (arch {last[0]}), mock exited with status 1; "
                       "see build.log for more information")
            self.host.failTask(last[1], failure(BUILD_ERROR, message))
            self.host.failBuild(task_id, tree.build)
            self.host.failTask(task_id, failure(BUILD_ERROR, message))
            return tree
        self.close(last[1], self.arch_result(last[1], nvr, last[0]))
        self.host.taskWaitResults(task_id, list(tree.arches.values()))
        if tree.build:
            # completeBuild would import real RPM files; the state change is all we need.
            self.sql(f"UPDATE build SET state = 1, completion_time = NOW() "
                     f"WHERE id = {int(tree.build)};")
            tree.tag = self.subtask(task_id, "tagBuild",
                                    [self.dest_tag, tree.build, False, None, True], "tag")
            self.host.taskSetWait(task_id, [tree.tag])
            self.tag(tree.tag, self.dest_tag, tree.build)
            self.host.taskWaitResults(task_id, [tree.tag])
        self.close(task_id)
        return tree

    def tag(self, task_id: int, tag: int | str, build: int) -> None:
        """Do a tagBuild task's work: tag as the task owner, then close it."""
        self.open(task_id)
        self.host.tagBuild(task_id, tag, build)
        self.close(task_id)

    @staticmethod
    def arch_result(task_id: int, nvr: tuple[str, str, str], arch: str) -> dict:
        stem = "-".join(nvr)
        return {"rpms": [f"{task_dir(task_id)}/{stem}.{arch}.rpm"], "srpms": [],
                "logs": logs(task_id, "build.log", "root.log", "state.log"), "brootid": 0}

    def record(self, tree: Tree, created: datetime, duration: int, outcome: str) -> None:
        """Put a finished tree on the timeline: build created at *created*, ended after
        *duration* seconds; the srpm task ran before it, the arch tasks during it."""
        def t(seconds: float) -> datetime:
            return created + timedelta(seconds=seconds)

        end = duration
        parent_end = {"complete": end + 12, "failed": end + 5, "scratch": end + 5,
                      "canceled": end}[outcome]
        self.timeline.task(tree.task, t(-180), t(-178), t(parent_end))
        self.timeline.task(tree.srpm, t(-178), t(-175), t(-15))
        count = len(tree.arches)
        for index, child in enumerate(tree.arches.values()):
            finished = end if outcome == "canceled" else end - 20 - 220 * (count - 1 - index)
            self.timeline.task(child, t(1), t(5), t(finished))
        if tree.build:
            self.timeline.build(tree.build, t(0), t(end))
        if tree.tag:
            self.timeline.task(tree.tag, t(end + 1), t(end + 2), t(end + 10))
            self.timeline.tagged(tree.build, self.dest_tag, t(end + 9))
