"""End-to-end encryption for the Matrix adapter: matrix-nio's Olm/Megolm machine (vodozemac)
and the operator's trust policy (``[matrix] encryption``).

``tofu`` trusts, on first sight, every device of the people in a room the bot talks in, and
logs each device it trusts; ``verified`` answers only commands from the devices listed in
``[matrix] trusted_devices`` (pinned to a fingerprint if the entry gives one) and shares room
keys with those only; ``refuse`` keeps the bot out of encrypted rooms. The keys and sessions
live in a store next to the state file (``matrix-<user>.crypto/``, the directory 0700, its
files 0600), so a restart keeps the same device and its sessions. Without the ``e2e`` extra
(vodozemac) the policy is ``refuse``.
"""

from __future__ import annotations

import os
from pathlib import Path

import nio
from twisted.logger import Logger

from kojibot.adapters.matrix.keyrequests import KeyRequests
from kojibot.adapters.matrix.niocalls import error_text
from kojibot.adapters.matrix.rooms import safe_name

log = Logger(namespace="kojibot.matrix")

POLICIES = ("tofu", "verified", "refuse")
NEEDS_EXTRA = ("encrypted rooms need the e2e extra (pip install 'kojibot[e2e]'): without it "
               "the bot does not post in them")


def available() -> bool:
    """Whether matrix-nio can encrypt here (vodozemac importable)."""
    try:
        from nio.crypto import ENCRYPTION_ENABLED
    except ImportError:
        return False
    return bool(ENCRYPTION_ENABLED)


def effective_policy(policy: str) -> str:
    """The policy the bot can follow: ``refuse`` when the e2e extra is missing."""
    if policy != "refuse" and not available():
        return "refuse"
    return policy


def store_dir(state_dir: str | os.PathLike, user_id: str) -> Path:
    return Path(state_dir) / f"matrix-{safe_name(user_id)}.crypto"


def make_private(directory: Path) -> None:
    """The crypto store readable by its owner only: it holds the device's private keys."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    for path in directory.iterdir():
        if path.is_file():
            os.chmod(path, 0o600)


def listed_devices(entries: tuple[str, ...]) -> dict[tuple[str, str], str]:
    """``[matrix] trusted_devices`` (checked by kojibot.config): (user, device) → its
    ed25519 fingerprint, ``""`` when the entry pins none (Element shows it in groups of
    four; the spaces go)."""
    listed = {}
    for entry in entries:
        user, device, *fingerprint = entry.split()
        listed[(user, device)] = "".join(fingerprint)
    return listed


class Crypto:
    """What the adapter does for encryption around its own sync loop and sends."""

    def __init__(self, client: nio.AsyncClient, policy: str, store: Path | None,
                 trusted_devices: tuple[str, ...] = ()):
        self.client, self.policy, self.store = client, policy, store
        self.listed = listed_devices(trusted_devices)
        self.keys = KeyRequests(client, self.judge)

    @property
    def enabled(self) -> bool:
        return self.policy != "refuse"

    def loaded(self) -> None:
        """After login: the store exists; keep it private and say which device is ours."""
        if self.enabled and self.store is not None:
            make_private(self.store)
            olm = self.client.olm
            if olm is not None:
                log.info("end-to-end encryption on (policy {policy}): device {device}, "
                         "fingerprint {key}", policy=self.policy, device=self.client.device_id,
                         key=olm.account.identity_keys["ed25519"])

    async def chores(self, to_device: list | tuple = ()) -> None:
        """After a sync, what nio's sync_forever would do: upload our keys, learn others'
        devices, claim one-time keys, send to-device messages; and answer the key
        requests in *to_device* from other people's devices (see keyrequests)."""
        client = self.client
        if not self.enabled or client.olm is None:
            return
        self.keys.asked(to_device)
        if client.should_upload_keys:
            self._check(await client.keys_upload(), "uploading keys")
        if client.should_query_keys:
            self._check(await client.keys_query(), "querying device keys")
            if self.policy == "verified":
                self.judge_all()
        self.keys.answer()  # may want one-time keys claimed for a requesting device
        if client.should_claim_keys:
            self._check(await client.keys_claim(client.get_users_for_key_claiming()),
                        "claiming one-time keys")
            self.keys.answer()
        await self.flush()

    async def flush(self) -> None:
        """Send the to-device messages queued (room keys, key requests, forwarded keys)."""
        if self.enabled and self.client.olm is not None:
            for response in await self.client.send_to_device_messages():
                self._check(response, "sending to-device messages")

    @staticmethod
    def _check(response: object, what: str) -> None:
        if isinstance(response, nio.ErrorResponse):
            log.warn("{what} failed: {why}", what=what, why=error_text(response))

    async def prepare(self, room: nio.MatrixRoom) -> None:
        """Before sending in encrypted *room*: its members and their devices known, and
        trusted as the policy says."""
        client = self.client
        if not room.members_synced:
            self._check(await client.joined_members(room.room_id), "reading members")
        if client.should_query_keys:
            self._check(await client.keys_query(), "querying device keys")
        for user_id in room.users:
            for device in client.device_store.active_user_devices(user_id):
                if device.id != client.device_id or user_id != client.user_id:
                    self.judge(device)

    def judge_all(self) -> None:
        """Every known device judged now, so that nio marks what a listed device says as
        verified when it decrypts it (``verified`` policy)."""
        client = self.client
        for user_id in list(client.device_store.users):
            for device in client.device_store.active_user_devices(user_id):
                if device.id != client.device_id or user_id != client.user_id:
                    self.judge(device)

    def judge(self, device: nio.OlmDevice) -> bool:
        """Whether *device* gets room keys and answers. TOFU: yes on first sight (logged),
        unless blacklisted. Verified: only if listed in trusted_devices, with the listed
        fingerprint if one is given; whatever the store said before."""
        client, olm = self.client, self.client.olm
        if self.policy != "verified":
            if olm.is_device_verified(device) or olm.is_device_blacklisted(device):
                return olm.is_device_verified(device)
            client.verify_device(device)
            log.info("trusting device {device} of {user} on first use (ed25519 {key})",
                     device=device.id, user=device.user_id, key=device.ed25519)
            return True
        pinned = self.listed.get((device.user_id, device.id))
        trusted = pinned is not None and pinned in ("", device.ed25519)
        if trusted and not olm.is_device_verified(device):
            client.verify_device(device)
            log.info("trusting device {device} of {user}: listed in trusted_devices "
                     "(ed25519 {key})", device=device.id, user=device.user_id,
                     key=device.ed25519)
        elif not trusted and not olm.is_device_blacklisted(device):
            client.blacklist_device(device)
            log.info("not sharing room keys with device {device} of {user} and not answering "
                     "it: {why}", device=device.id, user=device.user_id,
                     why="its ed25519 key is not the one listed in trusted_devices"
                     if pinned else "not listed in trusted_devices")
        return trusted

    def may_answer(self, verified: bool | None) -> bool:
        """Whether a command decrypted with this verification status is answered."""
        return self.policy != "verified" or verified is not False
