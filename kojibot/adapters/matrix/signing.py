"""Signed JSON as Matrix has it: canonical JSON (keys sorted, no spaces, UTF-8) of the object
without its ``signatures`` and ``unsigned``, an Ed25519 signature in unpadded base64 under
``signatures[user]["ed25519:<key id>"]``. Cross-signing keys are Ed25519 keys whose id is
their own public key. Ed25519 comes from ``cryptography``: vodozemac (nio's Olm) exposes no
standalone signing key.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)


def unpadded(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def unbase64(text: str) -> bytes:
    """Base64, padded or not (Matrix sends it unpadded); ValueError if it is not."""
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, TypeError):
        raise ValueError("not base64") from None


def canonical_json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True,
                      allow_nan=False).encode()


def signable(obj: Mapping) -> bytes:
    return canonical_json({key: value for key, value in obj.items()
                           if key not in ("signatures", "unsigned")})


def public_key(private: Ed25519PrivateKey) -> str:
    return unpadded(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def seed(private: Ed25519PrivateKey) -> str:
    """The private key as secret storage keeps it (unpadded base64 of its 32 bytes)."""
    return unpadded(private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))


def from_seed(text: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(unbase64(text))


def signed(obj: Mapping, user_id: str, private: Ed25519PrivateKey) -> dict:
    """*obj* with our signature added to those it has."""
    signature = unpadded(private.sign(signable(obj)))
    result = dict(obj)
    signatures = {user: dict(keys) for user, keys in (obj.get("signatures") or {}).items()}
    signatures.setdefault(user_id, {})[f"ed25519:{public_key(private)}"] = signature
    result["signatures"] = signatures
    return result


def verifies(obj: Mapping, user_id: str, key: str) -> bool:
    """Whether *obj* carries a valid signature of *user_id*'s Ed25519 key *key* (base64)."""
    signature = ((obj.get("signatures") or {}).get(user_id) or {}).get(f"ed25519:{key}")
    if not isinstance(signature, str):
        return False
    try:
        Ed25519PublicKey.from_public_bytes(unbase64(key)).verify(unbase64(signature),
                                                                 signable(obj))
    except (ValueError, InvalidSignature):
        return False
    return True


def cross_signing_key(user_id: str, usage: str, private: Ed25519PrivateKey) -> dict:
    """The public object of a master, self-signing or user-signing key (unsigned)."""
    key = public_key(private)
    return {"user_id": user_id, "usage": [usage], "keys": {f"ed25519:{key}": key}}


def key_of(obj: object) -> str | None:
    """The one Ed25519 key of a cross-signing key object, if it is well formed."""
    keys = obj.get("keys") if isinstance(obj, Mapping) else None
    if not isinstance(keys, Mapping) or len(keys) != 1:
        return None
    (key_id, key), = keys.items()
    return key if isinstance(key, str) and key_id == f"ed25519:{key}" else None
