"""A Koji build, with times, state name, task id and kojiweb link."""

from __future__ import annotations

from datetime import datetime

from txkoji import times
from txkoji.richobject import TimedObject
from txkoji.states import BuildState

# Content-generator builds (OSBS containers, image builders) keep their task id in ``extra``.
_EXTRA_TASK_KEYS = ("container_koji_task_id", "koji_task_id", "task_id")


class Build(TimedObject):
    web_page = "buildinfo"
    states = BuildState

    @property
    def record_id(self) -> int | None:
        """listBuilds names the id ``build_id``; getBuild and listTagged name it ``id``."""
        return self.get("id", self.get("build_id"))

    @property
    def nvr(self) -> str:
        if self.get("nvr"):
            return self["nvr"]
        return f"{self['name']}-{self['version']}-{self['release']}"

    @property
    def started(self) -> datetime | None:
        """When the build started (its creation time on hubs that record no start)."""
        return times.field(self, "start") or times.field(self, "creation")

    @property
    def task_id(self) -> int | None:
        if self.get("task_id") is not None:
            return self["task_id"]
        extra = self.get("extra") or {}
        if not isinstance(extra, dict):
            return None
        for key in _EXTRA_TASK_KEYS:
            value = extra.get(key)
            if value is not None:
                try:
                    return int(value)
                except (TypeError, ValueError):
                    continue
        return None

    @property
    def package_name(self) -> str | None:
        return self.get("package_name") or self.get("name")

    async def task(self):
        """The build's Task, or None for imports without one."""
        if self.task_id is None:
            return None
        return await self.connection.getTaskInfo(self.task_id)
