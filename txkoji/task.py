"""A Koji task, with times, state name and the fields its request encodes."""

from __future__ import annotations

import posixpath
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from txkoji import limits, times
from txkoji.richobject import TimedObject
from txkoji.rpc import decode_request
from txkoji.states import OPEN_TASK_STATES, TaskState

# Positions of the interesting arguments in each method's request, as the builders take them.
# "src" is an SCM URL or an uploaded SRPM path, "srpm" a built SRPM path, "name" an image name.
_LAYOUTS: dict[str, dict[str, int]] = {
    "build": {"src": 0, "target": 1, "opts": 2},
    "buildContainer": {"src": 0, "target": 1, "opts": 2},
    "maven": {"src": 0, "target": 1, "opts": 2},
    "buildArch": {"srpm": 0, "tag": 1, "arch": 2, "opts": 4},
    "buildSRPMFromSCM": {"src": 0, "tag": 1, "opts": 2},
    "rebuildSRPM": {"srpm": 0, "tag": 1, "opts": 2},
    "tagBuild": {"tag": 0, "build_id": 1},
    "newRepo": {"tag": 0},
    "distRepo": {"tag": 0},
    "waitrepo": {"tag": 0},
    "createrepo": {"arch": 1},
    "image": {"name": 0, "target": 3, "opts": 5},
    "livecd": {"name": 0, "arch": 2, "target": 3, "opts": 5},
    "appliance": {"name": 0, "arch": 2, "target": 3, "opts": 5},
    "livemedia": {"name": 0, "target": 3, "opts": 5},
    "createImage": {"name": 0, "arch": 3, "tag": 5, "opts": 8},
    "createLiveCD": {"name": 0, "arch": 3, "tag": 5, "opts": 8},
    "createAppliance": {"name": 0, "arch": 3, "tag": 5, "opts": 8},
    "createLiveMedia": {"name": 0, "arch": 3, "tag": 5, "opts": 8},
    "kiwiBuild": {"target": 0, "opts": 4},
    "chainbuild": {"target": 1, "opts": 2},
}

_SRPM = re.compile(r"(?P<nvr>(?P<name>.+)-[^-]+-[^-]+)\.src\.rpm$")


def package_from_src(src: Any) -> str | None:
    """The package name in an SCM URL (``git+https://host/rpms/bash.git#sha``) or SRPM path."""
    if not isinstance(src, str) or not src:
        return None
    match = _SRPM.search(posixpath.basename(src))
    if match:
        return match["name"]
    url = src.split("#", 1)[0]
    try:
        path = urlsplit(url).path or url
    except ValueError:  # e.g. an unclosed IPv6 bracket
        path = url
    return posixpath.basename(path.rstrip("/")).removesuffix(".git") or None


def srpm_nvr(path: Any) -> str | None:
    """The NVR of a ``...name-version-release.src.rpm`` path."""
    if not isinstance(path, str):
        return None
    match = _SRPM.search(posixpath.basename(path))
    return match["nvr"] if match else None


class Task(TimedObject):
    web_page = "taskinfo"
    states = TaskState

    @property
    def method(self) -> str | None:
        return self.get("method")

    @property
    def is_open(self) -> bool:
        return self.get("state") in OPEN_TASK_STATES

    @property
    def created(self) -> datetime | None:
        return times.field(self, "create")

    @property
    def params(self) -> list:
        """The decoded request arguments (the hub may hand over raw XML or a list)."""
        request = self.get("request")
        if isinstance(request, (str, bytes)):
            request = limits.capped(list(decode_request(request)[0]))
        return list(request or [])

    def _arg(self, key: str) -> Any:
        position = _LAYOUTS.get(self.method or "", {}).get(key)
        params = self.params
        if position is None or position >= len(params):
            return None
        return params[position]

    @property
    def opts(self) -> dict:
        opts = self._arg("opts")
        return opts if isinstance(opts, dict) else {}

    @property
    def package(self) -> str | None:
        """The package (or image name) the task works on."""
        name = self._arg("name")
        if isinstance(name, str) and name:
            return name
        return package_from_src(self._arg("src")) or package_from_src(self._arg("srpm"))

    @property
    def nvr(self) -> str | None:
        """The NVR, for tasks that work on a built SRPM."""
        return srpm_nvr(self._arg("srpm"))

    @property
    def tag(self) -> Any:
        """The tag (id or name, as the request has it) the task works in."""
        return self._arg("tag")

    @property
    def target(self) -> str | None:
        target = self._arg("target")
        if isinstance(target, dict):
            return target.get("name")
        return target

    @property
    def arch(self) -> str | None:
        arch = self._arg("arch")
        return arch if isinstance(arch, str) else self.get("arch")

    @property
    def build_id(self) -> int | None:
        return self._arg("build_id")

    @property
    def is_scratch(self) -> bool:
        return bool(self.opts.get("scratch"))

    @property
    def label(self) -> str:
        """A short human description: NVR, package, tag or target, else the method."""
        for value in (self.nvr, self.package, self.target, self.tag):
            if value not in (None, ""):
                return str(value)
        return self.method or f"task {self.get('id')}"

    async def descendents(self) -> list[Task]:
        """Every task below this one."""
        return await self.connection.getTaskDescendents(self["id"])
