"""Someone in an encrypting Matrix client (as Element is): matrix-nio with its crypto,
driven from Twisted through the same asyncio bridge the bot needs.

The person trusts every device they see (as a user who clicks through would); what they
read is what their client decrypted, so a test that waits for a reply proves it decrypts.
nio has no cross-signing: ``cross_sign`` gives the person an identity and signs their device
through the same HTTP API Element uses, written here on ``cryptography`` alone (apart from
the bot's code, so each checks the other).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path

import nio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from nio.event_builders import ToDeviceMessage
from twisted.internet import defer

from tests.synapse import MatrixUser

MEGOLM = {"type": "m.room.encryption", "state_key": "",
          "content": {"algorithm": "m.megolm.v1.aes-sha2"}}


def bridge(coroutine) -> defer.Deferred:
    return defer.Deferred.fromFuture(asyncio.ensure_future(coroutine))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def public(key: Ed25519PrivateKey) -> str:
    return b64(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def sign(obj: dict, user_id: str, key: Ed25519PrivateKey) -> dict:
    """*obj* signed as the spec says: canonical JSON without signatures and unsigned."""
    bare = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    text = json.dumps(bare, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return {**bare, "signatures": {user_id: {
        f"ed25519:{public(key)}": b64(key.sign(text.encode()))}}}


class E2EUser:
    """One device of a Matrix user, with its own crypto store under *store*."""

    def __init__(self, url: str, account: dict, store: Path):
        store.mkdir(parents=True, exist_ok=True)
        self.user_id, self.password = account["user_id"], account["password"]
        self.client = nio.AsyncClient(
            url, self.user_id, store_path=str(store),
            config=nio.AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False))
        self.timeline: dict[str, list] = {}  # room → events seen, as nio parsed them
        self.invites: dict[str, dict] = {}  # room → our invite's content
        self.to_device: list = []  # to-device events received, as nio parsed them
        self.held: list[ToDeviceMessage] = []  # room keys kept back (withhold_next_key)
        self._since: str | None = None

    @classmethod
    async def login(cls, url: str, account: dict, store: Path, device: str,
                    signed: bool = True) -> E2EUser:
        """A new device of *account*, signed by the person's identity (made now if they
        have none) unless *signed* is false."""
        user = cls(url, account, store)
        response = await bridge(user.client.login(user.password, device_name=device))
        assert isinstance(response, nio.LoginResponse), response
        user._take_creators_forwards()
        await user.sync(0)
        if signed:
            await user.cross_sign(account)
        return user

    async def cross_sign(self, account: dict) -> None:
        """Sign this device with the person's self-signing key: the identity's keys are
        kept in *account* (a test's stand-in for the person's secret storage)."""
        api = MatrixUser(self.client.homeserver, self.user_id, self.client.access_token)
        me = self.user_id
        if "self_signing" not in account:
            master, ssk = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
            keys = {"master_key": {"user_id": me, "usage": ["master"],
                                   "keys": {f"ed25519:{public(master)}": public(master)}},
                    "self_signing_key": sign({"user_id": me, "usage": ["self_signing"], "keys": {
                        f"ed25519:{public(ssk)}": public(ssk)}}, me, master)}
            await api.call("POST", "/keys/device_signing/upload", {
                **keys, "auth": {"type": "m.login.password", "password": self.password,
                                 "identifier": {"type": "m.id.user", "user": me}}})
            account.update(master=master, self_signing=ssk)
        found = await api.call("POST", "/keys/query", {"device_keys": {me: [self.device_id]}})
        device = found["device_keys"][me][self.device_id]
        signed = await api.call("POST", "/keys/signatures/upload", {
            me: {self.device_id: sign(device, me, account["self_signing"])}})
        assert not signed.get("failures"), signed

    def _take_creators_forwards(self) -> None:
        """nio, like Element, takes a forwarded room key only from its own user's devices.
        This client also takes one forwarded by the very device that created the session
        (the Olm sender key is the session's own sender key): the creator vouching for its
        own session, which is how the bot answers another person's key request."""
        olm = self.client.olm
        own_rule = olm._should_accept_forward

        def accept(sender: str, sender_key: str, event) -> bool:
            creator = event.source.get("content", {}).get("sender_key")
            return own_rule(sender, sender_key, event) or (
                event.session_id in olm.outgoing_key_requests and creator == sender_key)

        olm._should_accept_forward = accept

    @property
    def device_id(self) -> str:
        return self.client.device_id

    async def close(self) -> None:
        await bridge(self.client.close())

    async def sync(self, timeout_ms: int = 500) -> None:
        await bridge(self._sync(timeout_ms))

    async def _sync(self, timeout_ms: int) -> None:
        client = self.client
        response = await client.sync(timeout=timeout_ms, since=self._since,
                                     full_state=self._since is None)
        assert isinstance(response, nio.SyncResponse), response
        self._since = response.next_batch
        self.to_device.extend(response.to_device_events)
        for room_id, info in response.rooms.join.items():
            self.timeline.setdefault(room_id, []).extend(info.timeline.events)
        for room_id, info in response.rooms.invite.items():
            for event in info.invite_state:
                if isinstance(event, nio.InviteMemberEvent) and event.state_key == self.user_id:
                    self.invites[room_id] = {"sender": event.sender, **event.content}
        await self._keys()

    async def _keys(self) -> None:
        client = self.client
        if client.should_upload_keys:
            await client.keys_upload()
        if client.should_query_keys:
            await client.keys_query()
        if client.should_claim_keys:
            await client.keys_claim(client.get_users_for_key_claiming())
        await client.send_to_device_messages()
        for user_id in list(client.device_store.users):
            for device in client.device_store.active_user_devices(user_id):
                if not client.olm.is_device_verified(device):
                    client.verify_device(device)

    def withhold_next_key(self, user_id: str, device_id: str) -> None:
        """The next room key this device shares does not reach that device: its to-device
        message (Olm-encrypted for it) is kept back until ``release_withheld``."""
        olm = self.client.olm
        share = olm.share_group_session_parallel

        def keeping_back(*args, **kwargs):
            del olm.share_group_session_parallel  # this one time only
            for sharing_with, to_device in share(*args, **kwargs):
                held = to_device["messages"].get(user_id, {}).pop(device_id, None)
                if held is not None:
                    self.held.append(ToDeviceMessage("m.room.encrypted", user_id, device_id,
                                                     held))
                yield sharing_with, to_device

        olm.share_group_session_parallel = keeping_back

    async def release_withheld(self) -> None:
        """Send the room keys held back, as a client does that shares keys late."""
        while self.held:
            response = await bridge(self.client.to_device(self.held.pop(0)))
            assert isinstance(response, nio.ToDeviceResponse), response

    def session_of(self, room_id: str) -> str:
        """The id of the Megolm session this device now encrypts its messages in *room_id*
        with."""
        return self.client.olm.outbound_group_sessions[room_id].id

    async def request_key(self, room_id: str, event: nio.MegolmEvent, device_id: str) -> None:
        """Ask the sender's device *device_id* for the key of *event* (nio itself asks
        only our own devices; Element-style clients may ask the sender too)."""
        olm = self.client.olm
        event.room_id = room_id
        olm.outgoing_to_device_messages.append(event.as_key_request(
            event.sender, self.device_id, device_id=device_id))
        await bridge(self._keys())

    def decrypt(self, event: nio.MegolmEvent):
        """*event* decrypted now, or None if there is still no key for it."""
        try:
            return self.client.decrypt_event(event)
        except nio.EncryptionError:
            return None

    async def create_room(self, *, invite: tuple[str, ...] = (), is_direct: bool = False,
                          encrypted: bool = True, name: str | None = None) -> str:
        response = await bridge(self.client.room_create(
            name=name, invite=list(invite), is_direct=is_direct,
            preset=nio.RoomPreset.trusted_private_chat if is_direct
            else nio.RoomPreset.private_chat,
            initial_state=[MEGOLM] if encrypted else []))
        assert isinstance(response, nio.RoomCreateResponse), response
        return response.room_id

    async def join(self, room_id: str) -> None:
        response = await bridge(self.client.join(room_id))
        assert isinstance(response, nio.JoinResponse), response

    async def invite(self, room_id: str, user_id: str) -> None:
        response = await bridge(self.client.room_invite(room_id, user_id))
        assert isinstance(response, nio.RoomInviteResponse), response

    async def wait_member(self, room_id: str, user_id: str, timeout: float = 20) -> None:
        await self.wait_for(lambda: user_id in getattr(self.client.rooms.get(room_id),
                                                       "users", {}), timeout,
                            f"{user_id} joining {room_id}")

    async def wait_invite(self, sender: str, timeout: float = 20) -> tuple[str, dict]:
        found = await self.wait_for(lambda: next(
            ((room, content) for room, content in self.invites.items()
             if content["sender"] == sender), None), timeout, f"an invite from {sender}")
        del self.invites[found[0]]
        return found

    async def send(self, room_id: str, body: str, *, thread: str | None = None) -> str:
        """Say *body* (encrypted if the room is); the event id."""
        await self.sync(0)
        content: dict = {"msgtype": "m.text", "body": body}
        if thread:
            content["m.relates_to"] = {"rel_type": "m.thread", "event_id": thread,
                                       "is_falling_back": True,
                                       "m.in_reply_to": {"event_id": thread}}
        response = await bridge(self.client.room_send(
            room_id, "m.room.message", content, ignore_unverified_devices=True))
        assert isinstance(response, nio.RoomSendResponse), response
        return response.event_id

    def events(self, room_id: str) -> list:
        return self.timeline.get(room_id, [])

    async def wait_event(self, room_id: str, match, timeout: float = 20):
        """The first event seen in the room that *match* accepts (nio's parsed event:
        ``.source`` is the decrypted dict)."""
        return await self.wait_for(lambda: next(
            (event for event in self.events(room_id) if match(event)), None), timeout,
            f"a matching event in {room_id}")

    async def wait_for(self, found, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while True:
            value = found()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {timeout} s")
            await self.sync(300)


def decrypted_answer(bot_id: str, event_id: str):
    """A matcher: the bot's decrypted notice in reply to *event_id*."""
    def match(event) -> bool:
        content = event.source.get("content", {})
        relates = content.get("m.relates_to") or {}
        return (getattr(event, "decrypted", False) and event.sender == bot_id
                and content.get("msgtype") == "m.notice"
                and relates.get("m.in_reply_to", {}).get("event_id") == event_id)
    return match
