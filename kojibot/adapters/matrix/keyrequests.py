"""Room keys the bot asks for in encrypted rooms.

Ours: a message the bot cannot decrypt (it has no key for the Megolm session yet) waits here
while the bot asks the sender's device for the key (``m.room_key_request``; nio alone would
ask only the bot's own devices). When the key arrives the message is decrypted and answered
late rather than never.
"""

from __future__ import annotations

import nio
from nio.event_builders import RoomKeyRequestMessage
from twisted.logger import Logger

log = Logger(namespace="kojibot.matrix")

WAITING_MOST = 500  # undecryptable events kept for a late key


class KeyRequests:
    def __init__(self, client: nio.AsyncClient):
        self.client = client
        self.waiting: dict[str, tuple[str, nio.MegolmEvent]] = {}  # event id → its room, it

    def missing(self, room_id: str, source: dict) -> bool:
        """Keep an event we could not decrypt and ask its sender's device for the key.
        True the first time for its session: one notice per session, not per message."""
        event = nio.MegolmEvent.from_dict(source)
        if not isinstance(event, nio.MegolmEvent):
            log.warn("unreadable encrypted event {event} in {room}",
                     event=source.get("event_id"), room=room_id)
            return False
        event.room_id = room_id
        first = not any(other.session_id == event.session_id
                        for _, other in self.waiting.values())
        self.waiting[event.event_id] = (room_id, event)
        while len(self.waiting) > WAITING_MOST:
            del self.waiting[next(iter(self.waiting))]
        olm = self.client.olm
        if first and not self._requested(event.session_id):
            olm.outgoing_to_device_messages.append(event.as_key_request(
                event.sender, self.client.device_id, device_id=event.device_id))
            log.info("asked device {device} of {sender} for the key of session {session} "
                     "in {room}", device=event.device_id, sender=event.sender,
                     session=event.session_id, room=room_id)
        return first

    def _requested(self, session_id: str) -> bool:
        """Whether nio has asked for this session already (it does so itself on some
        failures): one request is enough."""
        olm = self.client.olm
        return session_id in olm.outgoing_key_requests or any(
            isinstance(message, RoomKeyRequestMessage) and message.session_id == session_id
            for message in olm.outgoing_to_device_messages)

    def recovered(self) -> list[tuple[str, nio.Event]]:
        """Waiting events whose key has arrived since, decrypted, oldest first."""
        store = self.client.olm.inbound_group_store
        found = []
        for event_id, (room_id, event) in list(self.waiting.items()):
            if store.get(room_id, event.sender_key, event.session_id) is None:
                continue
            del self.waiting[event_id]
            try:
                decrypted = self.client.decrypt_event(event)
            except nio.EncryptionError as exc:
                log.warn("{event} in {room} still does not decrypt: {why}",
                         event=event_id, room=room_id, why=exc)
                continue
            if getattr(decrypted, "decrypted", False):
                found.append((room_id, decrypted))
        return found
