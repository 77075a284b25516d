"""Drives real build state changes on a fixture hub, so koji's own plugins emit events.

Without builders or RPMs, a content generator's calls move builds through real hub code:
CGInitBuild (BUILDING), CGImport with the reservation token (COMPLETE), CGRefundBuild
(FAILED); cancelBuild and tagBuildBypass/untagBuildBypass do the rest.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

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
