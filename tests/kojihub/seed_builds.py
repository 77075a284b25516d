"""The seeded builds and tasks: one build in each state, histories with known durations,
and one task of each kind the client must decode.

Finished things sit on a fixed calendar (timeline.EPOCH plus offsets); things still in
progress (the BUILDING build, OPEN and FREE tasks) carry the real time of seeding.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .builder import Builder, Tree
from .timeline import Timeline, at

DAY = 86400
TARGET = "f41"
DIST = "fc41"
# getAverageBuildDuration must come out as their mean: 1440 s and 660 s.
BASH_DURATIONS = (1260, 1380, 1500, 1440, 1620)
BASH_VERSIONS = ("5.2.26-1", "5.2.26-3", "5.2.32-1", "5.2.37-1", "5.2.37-3")
CONTAINER_DURATIONS = (600, 540, 720, 660, 780)
CONTAINER = "fedora-toolbox-container"
CG_NAME = "atomic-reactor"


def commit(text: str) -> str:
    """A stable fake git commit id."""
    return hashlib.sha1(text.encode()).hexdigest()


def scm(name: str, nvr: str, kind: str = "rpms") -> str:
    return f"git+https://src.example.test/{kind}/{name}.git#{commit(nvr)}"


def split(nvr: str) -> tuple[str, str, str]:
    name, version, release = nvr.rsplit("-", 2)
    return name, version, release


class BuildSeeder:
    """Creates builds and tasks through user, admin and host sessions; fills facts."""

    def __init__(self, sessions: dict, builder: Builder, timeline: Timeline, facts: dict,
                 workdir: Path):
        self.sessions = sessions
        self.builder = builder
        self.timeline = timeline
        self.facts = facts
        self.workdir = workdir
        self.admin = sessions["kojiadmin"]

    def tree(self, key: str, user: str, nvr: str, outcome: str, offset: float | None = None,
             duration: int | None = None, opts: dict | None = None) -> Tree:
        """A `build` task by *user*, run by the builder to *outcome*."""
        src = scm(split(nvr)[0], nvr)
        task = self.sessions[user].build(src, TARGET, opts or {})
        tree = self.builder.build(task, split(nvr), src, outcome)
        if offset is not None:
            self.builder.record(tree, at(offset), duration, outcome)
        self.facts["tasks"].update(tree.task_keys(key))
        if tree.build:
            self.note_build(key, tree.build, nvr, user, task, offset, duration)
        return tree

    def note_build(self, key: str, build_id: int, nvr: str, owner: str, task_id: int | None,
                   offset: float | None, duration: int | None, **extra) -> None:
        created = at(offset) if offset is not None else None
        self.facts["builds"][key] = {
            "id": build_id, "nvr": nvr, "package": split(nvr)[0], "owner": owner,
            "task_id": task_id,
            "created": created.isoformat() if created else None,
            "completed": at(offset + duration).isoformat() if created else None,
            "duration": duration, **extra}

    def seed(self) -> None:
        facts = self.facts
        history = zip(BASH_VERSIONS, BASH_DURATIONS, strict=True)
        for index, (version, duration) in enumerate(history):
            user = ("alice", "bob")[index % 2]
            self.tree(f"bash-{index + 1}", user, f"bash-{version}.{DIST}", "complete",
                      index * DAY, duration)
        facts["durations"] = {"bash": list(BASH_DURATIONS), CONTAINER: list(CONTAINER_DURATIONS)}
        latest = facts["builds"][f"bash-{len(BASH_VERSIONS)}"]["id"]
        self.admin.tagBuildBypass("f41-updates", latest)
        self.timeline.tagged(latest, facts["tags"]["f41-updates"], at(4 * DAY + 3 * 3600))

        complete = self.tree("complete", "alice", f"python-requests-2.32.3-1.{DIST}",
                             "complete", 6 * DAY, 1020)
        self.tag_request("tag_build", "alice", "f41-updates", complete.build, 6 * DAY + 7200)
        self.tree("scratch", "alice", f"python-requests-2.32.3-1.{DIST}", "scratch",
                  6 * DAY + 1800, 900, {"scratch": True})
        self.tree("failed", "bob", f"gcc-14.2.1-3.{DIST}", "failed", 6 * DAY + 3600, 2400)
        canceled = self.tree("canceled", "bob", f"glibc-2.40-17.{DIST}", "building")
        self.sessions["bob"].cancelBuild(canceled.build)
        self.builder.record(canceled, at(6 * DAY + 3 * 3600), 300, "canceled")
        self.note_build("canceled", canceled.build, f"glibc-2.40-17.{DIST}", "bob",
                        canceled.task, 6 * DAY + 3 * 3600, 300)
        self.tree("building", "alice", f"bash-5.3.0-1.{DIST}", "building")
        # queued, for a package with a build history so its ETA can be estimated
        nvr = f"python-requests-2.32.4-1.{DIST}"
        facts["tasks"]["free"] = self.sessions["bob"].build(scm("python-requests", nvr),
                                                            TARGET, {})
        self.image()
        for index, duration in enumerate(CONTAINER_DURATIONS):
            self.container(index + 1, index * DAY + 12 * 3600, duration)

    def tag_request(self, key: str, user: str, tag: str, build: int, offset: float) -> None:
        """A user's tagBuild call makes a tagBuild task that the builder then carries out."""
        task = self.sessions[user].tagBuild(tag, build)
        self.builder.tag(task, tag, build)
        self.timeline.task(task, at(offset), at(offset + 3), at(offset + 8))
        self.timeline.tagged(build, self.facts["tags"][tag], at(offset + 7))
        self.facts["tasks"][key] = task

    def image(self) -> None:
        """An image (buildImageOz) task, picked up by the host and still running."""
        opts = {"ksurl": scm("fedora-kickstarts", "f41-cloud", "kickstarts"),
                "kickstart": "fedora-cloud-base.ks", "distro": "Fedora-41",
                "format": ["qcow2", "raw-xz"]}
        task = self.admin.buildImageOz(
            "Fedora-Cloud-Base", "41", ["x86_64", "aarch64"], TARGET,
            "https://dl.example.test/fedora/41/Everything/$arch/os/", opts)
        self.builder.open(task)
        self.facts["tasks"]["image"] = task

    def container(self, number: int, offset: float, duration: int) -> None:
        """A container build as OSBS makes it: a buildContainer task, then a content
        generator import whose build has no task_id, only extra.container_koji_task_id."""
        nvr = f"{CONTAINER}-41-{number}"
        src = scm(CONTAINER, nvr, "containers")
        task = self.admin.makeTask("buildContainer", [src, TARGET, {"git_branch": "f41"}],
                                   channel="container")
        self.builder.open(task)
        start, end = at(offset), at(offset + duration)
        log = self.workdir / f"{nvr}.log"
        log.write_text(f"{nvr}: built by the kojibot test fixture\n")
        directory = f"seed/{nvr}"
        self.admin.uploadWrapper(str(log), directory)
        name, version, release = split(nvr)
        metadata = {
            "metadata_version": 0,
            "build": {"name": name, "version": version, "release": release, "source": src,
                      "owner": "alice", "start_time": start.timestamp(),
                      "end_time": end.timestamp(),
                      "extra": {"container_koji_task_id": task, "image": {}}},
            "buildroots": [{
                "id": 1, "host": {"os": "Fedora 41", "arch": "x86_64"},
                "content_generator": {"name": CG_NAME, "version": "4.12"},
                "container": {"type": "none", "arch": "x86_64"},
                "tools": [], "components": [], "extra": {}}],
            "output": [{
                "buildroot_id": 1, "filename": log.name, "filesize": log.stat().st_size,
                "arch": "noarch", "checksum_type": "md5", "type": "log",
                "checksum": hashlib.md5(log.read_bytes()).hexdigest()}],
        }
        build = self.admin.CGImport(json.dumps(metadata), directory)
        log.unlink()
        self.builder.close(task, {"koji_builds": [build["id"]], "repositories": [
            f"registry.example.test/fedora/fedora-toolbox:41-{number}"]})
        self.timeline.task(task, at(offset - 30), at(offset - 25), at(offset + duration + 10))
        self.timeline.owner(task, self.facts["users"]["alice"])
        self.timeline.build_event(build["id"], start)
        key = f"container-{number}"
        self.facts["tasks"][key] = task
        self.note_build(key, build["id"], nvr, "alice", None, offset, duration,
                        container_task_id=task)
