"""A person's watches: a task tree or build followed to its end, reported where they asked."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kojibot.chat.message import Message
from kojibot.personal import buildroot
from kojibot.personal.watches import check_calls, label, merge_all, observations, root_state
from kojibot.services.identity import Identity
from kojibot.state.records import WatchRecord

if TYPE_CHECKING:
    from kojibot.personal.watcher import Watcher
    from kojibot.state.store import Store

PER_PERSON = 20  # watches one person may have


class Watches:
    """The asker's watches. The watcher holds everyone's in memory, merges the bus events
    into them and polls the hub; adding and dropping one goes through here."""

    limit = PER_PERSON

    def __init__(self, store: Store, watcher: Watcher, koji: Any, identity: Identity,
                 room: str | None):
        self._store = store
        self._watcher = watcher
        self._koji = koji
        self._identity = identity
        self._room = room

    async def look(self, kind: str, ref: int | str) -> WatchRecord | None:
        """A task tree ("task", id) or build ("build", NVR or id) as the hub has it now,
        ready to watch; None if the hub has no such thing."""
        multicall = self._koji.MultiCall()
        for method, args in check_calls(kind, ref):
            multicall.call(method, *args)
        values = list(await multicall())
        seen = observations(kind, values)
        if seen is None:
            return None
        watch = WatchRecord("", "", "", None, kind, seen[0][0], label(kind, values[0]))
        merge_all(watch, seen)
        return watch

    async def look_buildroot(self, ref: int | str, tag: str | None = None) -> WatchRecord | str:
        """Build *ref* (NVR or id) to be in *tag*'s buildroot (no tag: its target's build
        tag), ready to watch; else the one line that says why not."""
        return await self._watcher.look_buildroot(ref, tag)

    async def in_buildroot_now(self, found: WatchRecord) -> Message | None:
        """The line saying so if the newest repo of *found*'s tag holds its build already."""
        held = await self._watcher.check_now(found)
        return None if held is None else buildroot.in_buildroot_line(found, held[0], None,
                                                                     0.0, None)

    @staticmethod
    def state(watch: WatchRecord) -> str:
        """What is known of *watch* now: its state, or that the build is not in the
        buildroot yet."""
        if watch.kind == buildroot.KIND:
            return buildroot.waiting_text(watch)
        return root_state(watch) or "?"

    def current(self) -> list[WatchRecord]:
        """The asker's watches, oldest first, each with what is known of it now."""
        return self._watcher.of(self._identity.network, self._identity.who)

    async def add(self, found: WatchRecord) -> bool:
        """Report *found* (from ``look``, not done) to the asker where they asked when it
        ends; False if they were watching it already (it is then reported here)."""
        found.network, found.identity = self._identity.network, self._identity.who
        found.asker, found.room = self._identity.contact, self._room
        new = await self._store.add_watch(found)
        self._watcher.track(found)
        return new

    async def remove(self, watch: WatchRecord) -> bool:
        """Stop following *watch*; False if it was gone already."""
        self._watcher.untrack(watch)
        return await self._store.remove_watch(watch.id)
