"""Direct messages on Matrix: which room is whose DM, and opening one when there is none.

The account's ``m.direct`` data says which rooms are DMs with whom (every client of the
account sees the same); the bot reuses the last DM room it used with a person, else one
from ``m.direct`` it shares with them and that is not encrypted, else it opens a new one
(``is_direct``, the person invited) and records it there.
"""

from __future__ import annotations

from collections.abc import Callable

import nio
from twisted.logger import Logger

from kojibot.adapters.matrix import rooms
from kojibot.adapters.matrix.niocalls import (
    MatrixTrouble,
    error_text,
    nio_call,
    put_account_data,
)

log = Logger(namespace="kojibot.matrix")


class DirectRooms:
    def __init__(self, client: nio.AsyncClient,
                 encrypting: Callable[[], bool] = lambda: False):
        self.client, self.encrypting = client, encrypting
        self.mapping: dict[str, list[str]] = {}  # m.direct: user → DM rooms, newest last
        self.recent: dict[str, str] = {}  # user → the DM room last used with them

    def user_of(self, room_id: str) -> str | None:
        return rooms.direct_user(self.mapping, room_id)

    def used(self, user: str, room_id: str) -> None:
        self.recent[user] = room_id

    async def room_for(self, user: str) -> str | None:
        """The DM room to post to *user* in (None if none can be had; logged)."""
        recent = self.recent.get(user)
        for room_id in [recent, *reversed(self.mapping.get(user, []))]:
            room = self.client.rooms.get(room_id) if room_id else None
            if room_id and room is None and room_id == recent:
                return room_id  # opened just now, not synced yet
            if room is not None and (self.encrypting() or not room.encrypted) and (
                    user in room.users or user in room.invited_users):
                self.recent[user] = room_id
                return room_id
        response = await nio_call(self.client.room_create(
            is_direct=True, invite=[user], preset=nio.RoomPreset.trusted_private_chat))
        if isinstance(response, nio.RoomCreateError):
            if response.status_code in ("M_UNKNOWN_TOKEN", "M_LIMIT_EXCEEDED"):
                raise MatrixTrouble(f"opening a DM: {error_text(response)}")
            log.error("cannot open a DM with {user}: {why}", user=user,
                      why=error_text(response))
            return None
        log.info("opened DM room {room} with {user}", room=response.room_id, user=user)
        self.recent[user] = response.room_id
        await self.record(user, response.room_id)
        return response.room_id

    async def record(self, user: str, room_id: str) -> None:
        """Note *room_id* as a DM with *user* in m.direct."""
        await self._save(rooms.with_direct(self.mapping, user, room_id))

    async def forget(self, room_id: str) -> None:
        """The bot left *room_id*: it is nobody's DM any more."""
        self.recent = {user: room for user, room in self.recent.items() if room != room_id}
        if self.user_of(room_id):
            await self._save(rooms.without_room(self.mapping, room_id))

    async def _save(self, mapping: dict[str, list[str]]) -> None:
        if mapping == self.mapping:
            return
        self.mapping = mapping
        status = await nio_call(put_account_data(self.client, "m.direct", mapping))
        if status != 200:
            log.warn("could not save m.direct account data (HTTP {status})", status=status)
