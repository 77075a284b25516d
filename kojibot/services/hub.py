"""The hub for plugins: the txkoji connection and the bot's one-line answers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kojibot.chat.message import Message
from kojibot.lookups import build_answer, task_answer, user_answer, why_answer

if TYPE_CHECKING:
    import txkoji
    from kojibot.lookups import Lookups


class Hub:
    """``koji`` is the txkoji connection (any hub call; ``koji.cache`` maps ids to names);
    the methods answer with the line the bot's own commands give."""

    def __init__(self, koji: txkoji.Connection, lookups: Lookups):
        self.koji = koji
        self._lookups = lookups

    async def task(self, task_id: int) -> Message:
        """A task: method, package, arch, state, owner, times or ETA, link."""
        return await task_answer(self.koji, task_id)

    async def build(self, ref: int | str) -> Message:
        """A build (NVR or id): state, owner, task, tags, times, link."""
        return await build_answer(self.koji, ref)

    async def user(self, ref: int | str) -> Message:
        """A Koji user (name or id): status, principals, link."""
        return await user_answer(self.koji, ref)

    async def why(self, ref: str) -> Message:
        """Why a task (id) or build (NVR) failed, from its logs."""
        return await why_answer(self._lookups, ref)
