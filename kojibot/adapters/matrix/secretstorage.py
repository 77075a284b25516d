"""Secret storage (SSSS) with ``m.secret_storage.v1.aes-hmac-sha2``: secrets kept encrypted in
the account's data on the homeserver, under a key only the recovery key's holder has.

Each secret: HKDF-SHA256 of the key (salt 32 zero bytes, info the secret's name) gives an
AES-256-CTR key and an HMAC-SHA256 key; a random IV with bit 63 cleared; the MAC is over the
ciphertext. The key's own description holds the encryption of 32 zero bytes under the name
``""``, which tells a right key from a wrong one.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping

import nio
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kojibot.adapters.matrix.niocalls import MatrixTrouble, get_account_data, put_account_data
from kojibot.adapters.matrix.signing import unbase64, unpadded

ALGORITHM = "m.secret_storage.v1.aes-hmac-sha2"
DEFAULT_KEY = "m.secret_storage.default_key"
ZEROS = bytes(32)


class WrongKey(Exception):
    """The key does not open the account's secret storage (or a secret is missing); the
    message says which, in one line."""


def _derived(key: bytes, name: str) -> tuple[bytes, bytes]:
    both = HKDF(SHA256(), 64, salt=bytes(32), info=name.encode()).derive(key)
    return both[:32], both[32:]


def _ctr(aes_key: bytes, iv: bytes, data: bytes) -> bytes:
    cipher = Cipher(algorithms.AES(aes_key), modes.CTR(iv)).encryptor()
    return cipher.update(data) + cipher.finalize()


def encrypt(key: bytes, name: str, plaintext: bytes, iv: bytes | None = None) -> dict:
    """``{"iv", "ciphertext", "mac"}`` of *plaintext* stored as secret *name*."""
    fresh = bytearray(iv or os.urandom(16))
    fresh[8] &= 0x7F
    aes_key, mac_key = _derived(key, name)
    ciphertext = _ctr(aes_key, bytes(fresh), plaintext)
    return {"iv": unpadded(bytes(fresh)), "ciphertext": unpadded(ciphertext),
            "mac": unpadded(hmac.new(mac_key, ciphertext, hashlib.sha256).digest())}


def decrypt(key: bytes, name: str, item: Mapping) -> bytes:
    """The plaintext of secret *name*; WrongKey if its MAC does not match."""
    try:
        iv, ciphertext, mac = (unbase64(item[part]) for part in ("iv", "ciphertext", "mac"))
    except (KeyError, TypeError, ValueError):
        raise WrongKey(f"secret {name} is malformed in secret storage") from None
    aes_key, mac_key = _derived(key, name)
    if not hmac.compare_digest(hmac.new(mac_key, ciphertext, hashlib.sha256).digest(), mac):
        raise WrongKey(f"the recovery key does not decrypt {name}")
    return _ctr(aes_key, iv, ciphertext)


def describe(key: bytes) -> dict:
    """The content of ``m.secret_storage.key.<id>`` for *key*."""
    check = encrypt(key, "", ZEROS)
    return {"algorithm": ALGORITHM, "iv": check["iv"], "mac": check["mac"]}


def opens(key: bytes, description: Mapping) -> bool:
    """Whether *key* is the key *description* describes (its MAC check)."""
    if description.get("algorithm") != ALGORITHM or not isinstance(description.get("iv"), str):
        return False
    try:
        expected = unbase64(description.get("mac") or "")
    except ValueError:
        return False
    check = encrypt(key, "", ZEROS, iv=unbase64(description["iv"]))
    return hmac.compare_digest(unbase64(check["mac"]), expected)


async def _put(client: nio.AsyncClient, kind: str, content: dict) -> None:
    status = await put_account_data(client, kind, content)
    if status != 200:
        raise MatrixTrouble(f"saving {kind} in account data: HTTP {status}")


async def _get(client: nio.AsyncClient, kind: str) -> dict | None:
    status, content = await get_account_data(client, kind)
    if status == 404:
        return None
    if status != 200:
        raise MatrixTrouble(f"reading {kind} from account data: HTTP {status}")
    return content


async def create(client: nio.AsyncClient, stored: Mapping[str, str]) -> bytes:
    """A new default secret storage key holding *stored* (name → secret); the key."""
    key, key_id = os.urandom(32), secrets.token_urlsafe(24)
    await _put(client, f"m.secret_storage.key.{key_id}", describe(key))
    for name, secret in stored.items():
        await _put(client, name, {"encrypted": {key_id: encrypt(key, name, secret.encode())}})
    await _put(client, DEFAULT_KEY, {"key": key_id})
    return key


async def read(client: nio.AsyncClient, key: bytes, name: str) -> str:
    """Secret *name* from the account's default secret storage, opened with *key*."""
    default = await _get(client, DEFAULT_KEY)
    key_id = default.get("key") if default else None
    if not isinstance(key_id, str):
        raise WrongKey("the account has no secret storage")
    description = await _get(client, f"m.secret_storage.key.{key_id}")
    if not description or not opens(key, description):
        raise WrongKey("the recovery key does not open the account's secret storage")
    item = ((await _get(client, name)) or {}).get("encrypted", {}).get(key_id)
    if not isinstance(item, Mapping):
        raise WrongKey(f"the account's secret storage holds no {name}")
    try:
        return decrypt(key, name, item).decode()
    except UnicodeDecodeError:
        raise WrongKey(f"secret {name} is malformed in secret storage") from None
