"""The bot's own cross-signing identity, so that Element (which excludes devices their owner
did not sign) shares room keys with it and trusts what it says.

After login, with encryption on: if the account has no cross-signing keys, the bot makes the
master, self-signing and user-signing keys, keeps their private halves in secret storage
under a new recovery key (written to ``[matrix] recovery_key_file``, 0600; the log names
the file, never the key), uploads the public keys (a first upload needs no interactive auth
on current servers; if asked, the configured password answers) and signs its device. If the
account has an identity and this device is not signed by it, the recovery key (from the
file or the environment variable ``[matrix] recovery_key_env`` names) opens secret storage
for the self-signing key, which signs the device. The bot never replaces an identity: without
a working key it says in one line what is missing and encryption stays off.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import nio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from twisted.logger import Logger

from kojibot.adapters.matrix import recoverykey, secretstorage, signing
from kojibot.adapters.matrix.niocalls import MatrixTrouble, api
from kojibot.adapters.matrix.saved import write_private

log = Logger(namespace="kojibot.matrix")

KEYS = "/_matrix/client/v3/keys"
SECRETS = {"master": "m.cross_signing.master", "self_signing": "m.cross_signing.self_signing",
           "user_signing": "m.cross_signing.user_signing"}


class NoIdentity(Exception):
    """This device cannot be signed; the message says why in one line (no secret in it)."""


@dataclass(frozen=True)
class RecoveryKey:
    """Where the operator keeps the recovery key: a file, or an environment variable."""

    file: Path
    env: str | None = None

    def where(self) -> str:
        return f"{self.file}" + (f" or ${self.env}" if self.env else "")

    def read(self) -> bytes:
        if self.env and os.environ.get(self.env, "").strip():
            text, source = os.environ[self.env], f"${self.env}"
        else:
            try:
                text, source = self.file.read_text(), str(self.file)
            except FileNotFoundError:
                raise NoIdentity(f"no recovery key: {self.where()} holds none") from None
            except OSError as exc:
                raise NoIdentity(f"cannot read the recovery key in {self.file}: "
                                 f"{exc.strerror}") from None
        try:
            return recoverykey.decode(text)
        except ValueError as exc:
            raise NoIdentity(f"the recovery key in {source} is unusable: {exc}") from None


async def query(client: nio.AsyncClient, users: list[str]) -> dict:
    """/keys/query for *users* as the server answers it (nio keeps only device keys)."""
    status, raw = await api(client, "POST", f"{KEYS}/query",
                            {"device_keys": {user: [] for user in users}})
    if status != 200:
        raise MatrixTrouble(f"querying keys: HTTP {status} {raw.get('errcode', '')}")
    return raw


async def ensure_signed(client: nio.AsyncClient, password: str | None,
                        recovery: RecoveryKey) -> str:
    """Make this device signed by the account's identity (creating one if there is none);
    its master key. NoIdentity if it cannot be; MatrixTrouble to try again later."""
    me, device_id = client.user_id, client.device_id
    raw = await query(client, [me])
    device = (raw.get("device_keys", {}).get(me) or {}).get(device_id)
    if not isinstance(device, dict):
        raise MatrixTrouble(f"the server does not list this device's keys ({device_id})")
    master = signing.key_of(raw.get("master_keys", {}).get(me))
    if master is None:
        return await _create(client, password, recovery, device)
    self_signing = raw.get("self_signing_keys", {}).get(me) or {}
    published = signing.key_of(self_signing)
    if published and signing.verifies(self_signing, me, master) and signing.verifies(
            device, me, published):
        return master
    try:
        private = signing.from_seed(await secretstorage.read(
            client, recovery.read(), SECRETS["self_signing"]))
    except secretstorage.WrongKey as exc:
        raise NoIdentity(str(exc)) from None
    except ValueError:
        raise NoIdentity("the self-signing key in secret storage is malformed") from None
    if signing.public_key(private) != published:
        raise NoIdentity("the self-signing key in secret storage is not the one the account "
                         "publishes")
    await _sign_device(client, device, private)
    log.info("signed device {device} with the account's self-signing key (master key "
             "{master})", device=device_id, master=master)
    return master


async def _create(client: nio.AsyncClient, password: str | None, recovery: RecoveryKey,
                  device: dict) -> str:
    me = client.user_id
    private = {usage: Ed25519PrivateKey.generate() for usage in SECRETS}
    public = {usage: signing.cross_signing_key(me, usage, key) for usage, key in private.items()}
    for usage in ("self_signing", "user_signing"):
        public[usage] = signing.signed(public[usage], me, private["master"])
    key = await secretstorage.create(client, {SECRETS[usage]: signing.seed(private[usage])
                                              for usage in SECRETS})
    write_private(recovery.file, recoverykey.encode(key) + "\n")
    await _upload(client, password, {f"{usage}_key": public[usage] for usage in SECRETS})
    await _sign_device(client, device, private["self_signing"])
    master = signing.public_key(private["master"])
    log.info("created the cross-signing identity of {user} (master key {master}) and signed "
             "device {device}; its recovery key is in {path}: keep a copy elsewhere, a new "
             "machine or a wiped crypto store needs it", user=me, master=master,
             device=client.device_id, path=str(recovery.file))
    return master


async def _upload(client: nio.AsyncClient, password: str | None, body: dict) -> None:
    status, answer = await api(client, "POST", f"{KEYS}/device_signing/upload", body)
    if status == 401 and "flows" in answer:
        if not password:
            raise NoIdentity("the homeserver asks for interactive authentication to upload "
                             "the cross-signing keys and no [matrix] password is configured: "
                             "set up the identity once in Element, then give the bot its "
                             "recovery key")
        status, answer = await api(client, "POST", f"{KEYS}/device_signing/upload", {
            **body, "auth": {"type": "m.login.password", "password": password,
                             "identifier": {"type": "m.id.user", "user": client.user_id},
                             "session": answer.get("session")}})
    if status != 200:
        raise NoIdentity(f"the homeserver refused the cross-signing keys: HTTP {status} "
                         f"{answer.get('errcode', '')} {answer.get('error', '')}".rstrip())


async def _sign_device(client: nio.AsyncClient, device: dict,
                       self_signing: Ed25519PrivateKey) -> None:
    mine = {key: value for key, value in device.items() if key not in ("signatures", "unsigned")}
    body = {client.user_id: {client.device_id: signing.signed(mine, client.user_id,
                                                               self_signing)}}
    status, answer = await api(client, "POST", f"{KEYS}/signatures/upload", body)
    if status != 200 or answer.get("failures"):
        raise MatrixTrouble(f"uploading this device's signature: HTTP {status} "
                            f"{answer.get('failures') or answer.get('errcode', '')}")
