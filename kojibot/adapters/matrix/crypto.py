"""End-to-end encryption for the Matrix adapter: matrix-nio's Olm/Megolm machine (vodozemac),
the bot's own cross-signing identity (``crosssigning``) and the operator's trust policy
(``[matrix] encryption``, decided per device by ``identities``).

Every device's verdict is written into nio's device store before nio shares a room key:
trusted devices are marked verified, the others blacklisted (logged once, when that
happens), so nio shares room keys with trusted devices only; a command is answered only
from a trusted device. ``refuse`` keeps the bot out of encrypted rooms, and so does a device
that cannot be signed. The keys and sessions live in a store next to the state file
(``matrix-<user>.crypto/``, the directory 0700, its files 0600), so a restart keeps the same
device and its sessions. Without the ``e2e`` extra (vodozemac) the policy is ``refuse``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import nio
from twisted.logger import Logger

from kojibot.adapters.matrix import crosssigning
from kojibot.adapters.matrix.identities import Identities
from kojibot.adapters.matrix.keyrequests import KeyRequests
from kojibot.adapters.matrix.niocalls import MatrixTrouble, error_text
from kojibot.adapters.matrix.rooms import identity_changed_notice, safe_name
from kojibot.config import MatrixSettings

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


def recovery_file(settings: MatrixSettings, store: Path) -> Path:
    """``[matrix] recovery_key_file``, by default beside the crypto store (a wiped store
    keeps it)."""
    if settings.recovery_key_file:
        return Path(settings.recovery_key_file).expanduser()
    return store.with_suffix(".recovery-key")


def make_private(directory: Path) -> None:
    """The crypto store readable by its owner only: it holds the device's private keys."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    for path in directory.iterdir():
        if path.is_file():
            os.chmod(path, 0o600)


class Client(nio.AsyncClient):
    """nio's client whose key queries also hand the whole answer, cross-signing keys
    included (nio keeps only the device keys), to ``learned``."""

    learned: Callable[[dict, list[str]], None] | None = None

    async def keys_query(self) -> nio.KeysQueryResponse | nio.KeysQueryError:
        if self.learned is None or not self.users_for_key_query:
            return await super().keys_query()
        users = sorted(self.users_for_key_query)
        try:
            raw = await crosssigning.query(self, users)
        except MatrixTrouble as exc:
            return nio.KeysQueryError(str(exc))
        response = nio.KeysQueryResponse.from_dict(raw)
        await self.receive_response(response)
        if isinstance(response, nio.KeysQueryResponse):
            self.learned(raw, users)
        return response


class Crypto:
    """What the adapter does for encryption around its own sync loop and sends. *tell*
    says a line to a person in their DM."""

    def __init__(self, client: nio.AsyncClient, policy: str, store: Path | None,
                 settings: MatrixSettings, tell: Callable[[str, str], object]):
        self.client, self.policy, self.store, self.tell = client, policy, store, tell
        self.password = settings.password
        self.recovery = crosssigning.RecoveryKey(
            recovery_file(settings, store), settings.recovery_key_env) if store else None
        self.identities = Identities(policy, store / "identities.json" if store else None,
                                     settings.trusted_identities)
        self.signed_device: str | None = None
        self.keys = KeyRequests(client, self.judge)
        if isinstance(client, Client) and self.enabled:
            client.learned = self.learned

    @property
    def enabled(self) -> bool:
        return self.policy != "refuse"

    async def loaded(self) -> None:
        """After login, once per device: the store private, our keys uploaded and this
        device signed by the account's identity; else encryption off, said in one line."""
        client, olm = self.client, self.client.olm
        if (not self.enabled or self.recovery is None or olm is None
                or self.signed_device == client.device_id):
            return
        make_private(self.store)
        if client.should_upload_keys:
            self._check(await client.keys_upload(), "uploading keys")
        try:
            master = await crosssigning.ensure_signed(client, self.password, self.recovery)
        except crosssigning.NoIdentity as exc:
            self.policy = "refuse"
            log.error("device {device} is not signed by the account's cross-signing identity "
                      "({why}), so encrypted rooms are refused: give the bot its recovery key "
                      "in {where} and restart (the identity on the server is left as it is)",
                      device=client.device_id, why=exc, where=self.recovery.where())
            return
        self.signed_device = client.device_id
        olm.users_for_key_query.update({*client.device_store.users, client.user_id})
        log.info("end-to-end encryption on (policy {policy}): device {device}, fingerprint "
                 "{key}, signed by the account's identity (master key {master})",
                 policy=self.policy, device=client.device_id,
                 key=olm.account.identity_keys["ed25519"], master=master)

    def learned(self, raw: dict, users: list[str]) -> None:
        """A key query's answer: identities learned, every known device judged again."""
        for user in self.identities.learn(raw, users):
            self.tell(user, identity_changed_notice(self.identities.known[user].master or ""))
        self.judge_all()

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
        judged."""
        client = self.client
        if not room.members_synced:
            self._check(await client.joined_members(room.room_id), "reading members")
        if client.should_query_keys:
            self._check(await client.keys_query(), "querying device keys")
        for user_id in room.users:
            self._judge_user(user_id)

    def judge_all(self) -> None:
        for user_id in list(self.client.device_store.users):
            self._judge_user(user_id)

    def _judge_user(self, user_id: str) -> None:
        client = self.client
        for device in client.device_store.active_user_devices(user_id):
            if device.id != client.device_id or user_id != client.user_id:
                self.judge(device)

    def judge(self, device: nio.OlmDevice) -> bool:
        """Whether *device* gets room keys and answers, written into nio's device store;
        a change of verdict is logged."""
        client, olm = self.client, self.client.olm
        if device.user_id not in self.identities.known:  # not queried by this run yet
            olm.users_for_key_query.add(device.user_id)
            return False
        trusted, why = self.identities.verdict(device.user_id, device.id, device.ed25519)
        if trusted and not olm.is_device_verified(device):
            client.verify_device(device)
            log.info("trusting device {device} of {user}: {why}", device=device.id,
                     user=device.user_id, why=why)
        elif not trusted and not olm.is_device_blacklisted(device):
            client.blacklist_device(device)
            log.info("not sharing room keys with device {device} of {user} and not answering "
                     "it: {why}", device=device.id, user=device.user_id, why=why)
        return trusted

    def may_answer(self, sender: str, sender_key: str | None) -> bool:
        """Whether a command is answered: yes if it came in the clear, else only from a
        device the policy trusts (found by the Curve25519 key it was encrypted with)."""
        if sender_key is None:
            return True
        store = self.client.device_store
        device = next((device for device in store.active_user_devices(sender)
                       if device.curve25519 == sender_key), None) \
            if sender in store.users else None
        if device is None:
            log.info("not answering {sender}: the device that encrypted the command is not "
                     "known", sender=sender)
            return False
        return self.judge(device)
