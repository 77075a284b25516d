"""A Koji channel: the hosts that take one kind of task."""

from __future__ import annotations

from txkoji.richobject import RichObject


class Channel(RichObject):
    web_page = "channelinfo"

    async def hosts(self, **filters) -> list:
        """This channel's hosts (``listHosts``), e.g. ``hosts(enabled=True, ready=True)``."""
        return await self.connection.listHosts(channelID=self["id"], **filters)

    async def total_capacity(self) -> float:
        """Summed capacity of the channel's enabled, ready hosts."""
        hosts = await self.hosts(enabled=True, ready=True)
        return sum(host.get("capacity") or 0.0 for host in hosts)
