"""Room keys asked for, both ways, in encrypted rooms.

Ours: a message the bot cannot decrypt (it has no key for the Megolm session yet) waits here
while the bot asks the sender's device for the key (``m.room_key_request``; nio alone would
ask only the bot's own devices). When the key arrives the message is decrypted and answered
late rather than never.

Theirs: nio answers key requests from the bot's own devices only. A person's device that
missed one of the bot's sessions (a phone signed in later) asks the bot; the bot forwards
that session's key when the session is its own, the person is in the room, and the trust
policy trusts the device. A device nio has no keys or Olm session for yet waits for the
next key query or one-time key claim (a few tries).
"""

from __future__ import annotations

from collections.abc import Callable

import nio
from nio.event_builders import RoomKeyRequestMessage
from twisted.logger import Logger

log = Logger(namespace="kojibot.matrix")

WAITING_MOST = 500  # undecryptable events kept for a late key
REQUESTS_MOST = 1000  # others' key requests kept until they can be answered
TRIES = 6  # answer() calls (one or two a sync) a request waits for its device's keys or session


class KeyRequests:
    def __init__(self, client: nio.AsyncClient,
                 trusts: Callable[[nio.OlmDevice], bool]):
        self.client, self.trusts = client, trusts
        self.waiting: dict[str, tuple[str, nio.MegolmEvent]] = {}  # event id → its room, it
        self.theirs: dict[tuple[str, str, str], tuple[nio.RoomKeyRequest, int]] = {}

    def missing(self, room_id: str, source: dict) -> bool:
        """Keep an event we could not decrypt and ask its sender's device for the key.
        True the first time for its session: one notice per session, not per message."""
        event = nio.MegolmEvent.from_dict(source)
        if not isinstance(event, nio.MegolmEvent):
            log.warn("unreadable encrypted event {event} in {room}",
                     event=source.get("event_id"), room=room_id)
            return False
        event.room_id = room_id
        log.info("cannot decrypt {event} from {sender} in {room} yet (no key for session "
                 "{session}); it waits for the key", event=event.event_id, sender=event.sender,
                 room=room_id, session=event.session_id)
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
        if not self.waiting:
            return []
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

    def asked(self, events: list) -> None:
        """Take other people's key requests (and cancellations) from a sync."""
        for event in events:
            key = (getattr(event, "sender", ""), getattr(event, "requesting_device_id", ""),
                   getattr(event, "request_id", ""))
            if isinstance(event, nio.RoomKeyRequestCancellation):
                self.theirs.pop(key, None)
            elif isinstance(event, nio.RoomKeyRequest) and key[0] != self.client.user_id:
                self.theirs[key] = (event, 0)
        while len(self.theirs) > REQUESTS_MOST:
            del self.theirs[next(iter(self.theirs))]

    def answer(self) -> None:
        """Queue forwarded keys for the requests that can be answered now; drop those that
        never can (each said in the log), keep the rest for a few more tries."""
        for key, (request, tries) in list(self.theirs.items()):
            if self._answered(request):
                del self.theirs[key]
            elif tries + 1 >= TRIES:
                del self.theirs[key]
                log.info("not sharing the key of session {session} with device {device} of "
                         "{user}: no keys or Olm session for that device could be had",
                         session=request.session_id, device=request.requesting_device_id,
                         user=request.sender)
            else:
                self.theirs[key] = (request, tries + 1)

    def _answered(self, request: nio.RoomKeyRequest) -> bool:
        """Share or refuse *request* (True), or False when its device needs keys first."""
        from nio.crypto.olm_machine import KeyShareError  # only with the e2e extra

        client, olm = self.client, self.client.olm
        who, session = (f"device {request.requesting_device_id} of {request.sender}",
                        request.session_id)
        room = client.rooms.get(request.room_id)
        if (request.sender_key != olm.account.identity_keys["curve25519"] or room is None
                or request.sender not in room.users):
            log.info("not sharing the key of session {session} with {who}: not the bot's "
                     "session in a room they share with it", session=session, who=who)
            return True
        device = client.device_store[request.sender].get(request.requesting_device_id) \
            if request.sender in client.device_store.users else None
        if device is None or device.deleted:
            olm.users_for_key_query.add(request.sender)
            return False
        if not self.trusts(device):
            log.info("not sharing the key of session {session} with {who}: the trust policy "
                     "does not trust it", session=session, who=who)
            return True
        if olm.session_store.get(device.curve25519) is None:  # claim a one-time key first
            if device not in olm.key_request_devices_no_session:
                olm.key_request_devices_no_session.append(device)
            return False
        try:  # nio's sharing for any requester; only its name says "ourselves"
            olm.share_with_ourselves(request)
        except (KeyShareError, nio.EncryptionError, nio.OlmTrustError) as exc:
            log.info("not sharing the key of session {session} with {who}: {why}",
                     session=session, who=who, why=exc)
            return True
        log.info("forwarding the key of session {session} in {room} to {who}",
                 session=session, room=request.room_id, who=who)
        return True
