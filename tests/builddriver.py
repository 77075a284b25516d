"""Drives real build and task state changes on a fixture hub, so koji's own plugins emit
events.

Without builders or RPMs, a content generator's calls move builds through real hub code:
CGInitBuild (BUILDING), CGImport with the reservation token (COMPLETE), CGRefundBuild
(FAILED); cancelBuild and tagBuildBypass/untagBuildBypass do the rest. TaskDriver plays the
builder host for whole ``build`` task trees (SRPM stage, buildArch tasks, logs, failures).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

from tests.kojihub.builder import BUILD_ERROR, failure, result, task_dir
from tests.kojihub.seed import ARCHES
from tests.kojihub.seed_builds import CG_NAME


class BuildDriver:
    def __init__(self, hub):
        self.admin = hub.session("kojiadmin")
        self.reservations: dict[str, tuple[int, str]] = {}

    def start(self, name: str, version: str = "1.0", release: str = "1") -> str:
        nvr = f"{name}-{version}-{release}"
        info = self.admin.CGInitBuild(CG_NAME, {"name": name, "version": version,
                                                "release": release})
        self.reservations[nvr] = (info["build_id"], info["token"])
        return nvr

    def complete(self, nvr: str) -> None:
        build_id, token = self.reservations.pop(nvr)
        name, version, release = nvr.rsplit("-", 2)
        with tempfile.TemporaryDirectory() as scratch:
            log = Path(scratch) / f"{nvr}.log"
            log.write_text(f"{nvr} built by the kojibot relay tests\n")
            directory = f"relay-tests/{nvr}"
            self.admin.uploadWrapper(str(log), directory)
            metadata = {
                "metadata_version": 0,
                "build": {"name": name, "version": version, "release": release,
                          "source": f"git+https://src.example.test/{name}.git#1",
                          "build_id": build_id, "owner": "alice", "start_time": 1767607200.0,
                          "end_time": 1767608400.0, "extra": {}},
                "buildroots": [{"id": 1, "host": {"os": "Fedora 41", "arch": "x86_64"},
                                "content_generator": {"name": CG_NAME, "version": "1"},
                                "container": {"type": "none", "arch": "x86_64"},
                                "tools": [], "components": [], "extra": {}}],
                "output": [{"buildroot_id": 1, "filename": log.name,
                            "filesize": log.stat().st_size, "arch": "noarch",
                            "checksum_type": "md5", "type": "log",
                            "checksum": hashlib.md5(log.read_bytes()).hexdigest()}],
            }
            self.admin.CGImport(json.dumps(metadata), directory, token=token)

    def fail(self, nvr: str) -> None:
        build_id, token = self.reservations.pop(nvr)
        self.admin.CGRefundBuild(CG_NAME, build_id, token)

    def cancel(self, nvr: str) -> None:
        self.reservations.pop(nvr, None)
        self.admin.cancelBuild(nvr)

    def tag(self, nvr: str, tag: str) -> None:
        self.admin.tagBuildBypass(tag, nvr)

    def untag(self, nvr: str, tag: str) -> None:
        self.admin.untagBuildBypass(tag, nvr)



class TaskDriver:
    """Plays the builder for ``build`` tasks through a real host session, so the hub's own
    task and build state changes (and koji's message plugins) happen as under kojid.

    ``submit`` makes the task as its owner; the rest opens, spawns, closes and fails tasks
    as the host. ``upload_log`` puts a log where kojid puts it (the task's work directory):
    the hub lists it in listTaskOutput and serves it under topurl.
    """

    def __init__(self, hub):
        self.hub = hub
        self.arches = ARCHES
        self.build_tag = hub.facts["tags"]["f41-build"]
        self.repo_id = hub.facts["repos"]["f41-build"]
        self.sessions: dict = {}
        self.sources: dict[int, str] = {}
        self.builds: dict[int, int] = {}  # task id -> build id
        self.host_session = hub.host_session()
        self.host = self.host_session.host

    def submit(self, user: str, name: str, scratch: bool = False) -> int:
        if user not in self.sessions:
            self.sessions[user] = self.hub.session(user)
        src = f"git+https://src.example.test/rpms/{name}.git#{name}"
        task_id = self.sessions[user].build(src, "f41", {"scratch": True} if scratch else {})
        self.sources[task_id] = src
        return task_id

    def start(self, task_id: int) -> None:
        if not self.host.openTask(task_id):
            raise RuntimeError(f"host could not open task {task_id}")

    def srpm(self, task_id: int) -> int:
        """Open the task and its buildSRPMFromSCM subtask; the subtask's id."""
        self.start(task_id)
        child = self.host.subtask("buildSRPMFromSCM", [self.sources[task_id], self.build_tag,
                                                       {"repo_id": self.repo_id}],
                                  task_id, label="srpm")
        self.host.taskSetWait(task_id, [child])
        self.start(child)
        return child

    def arch_tasks(self, task_id: int, nvr: str, build: bool = True) -> dict[str, int]:
        """After the SRPM stage: init the build (unless scratch) and open one buildArch
        per arch; returns {arch: task id}."""
        srpm = f"{task_dir(task_id)}/{nvr}.src.rpm"
        if build:
            name, version, release = nvr.rsplit("-", 2)
            self.builds[task_id] = self.host.initBuild({
                "name": name, "version": version, "release": release, "epoch": None,
                "task_id": task_id, "source": self.sources[task_id]})
        arches = {arch: self.host.subtask("buildArch", [srpm, self.build_tag, arch, True,
                                                        {"repo_id": self.repo_id}],
                                          task_id, label=arch, arch=arch)
                  for arch in self.arches}
        self.host.taskSetWait(task_id, list(arches.values()))
        for child in arches.values():
            self.start(child)
        return arches

    def open_tree(self, name: str, scratch: bool = True) -> tuple[int, dict[str, int]]:
        """A build task by kojiadmin (nobody's alerts) past its SRPM stage with one open
        buildArch task per arch (and, unless scratch, its build BUILDING)."""
        task_id = self.submit("kojiadmin", name, scratch)
        self.close(self.srpm(task_id))
        return task_id, self.arch_tasks(task_id, f"{name}-1.0-1", not scratch)

    def close(self, task_id: int, value: object = None) -> None:
        self.host.closeTask(task_id, result(value))

    def fail(self, task_id: int, message: str = "mock exited with status 1") -> None:
        self.host.failTask(task_id, failure(BUILD_ERROR, message))

    def fail_build(self, task_id: int) -> None:
        """The build of ``task_id`` FAILED, as kojid reports it before failing the task."""
        self.host.failBuild(task_id, self.builds[task_id])

    def upload_log(self, task_id: int, text: str, name: str = "build.log") -> None:
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / name
            path.write_text(text)
            self.host_session.uploadWrapper(str(path), task_dir(task_id))
