"""People's cross-signing identities, and whom the trust policy trusts, as Element decides it.

A device is trusted only if its owner's self-signing key (itself signed by their master key)
signed it: a person with no identity, or a device they did not sign, gets no room keys and no
answers. ``tofu`` pins each person's master key the first time it is seen (the pins live in
the crypto store, 0600); a pinned identity that changes is logged, reported to the adapter
(which tells the person once in their DM) and pinned anew, as Element does for an identity
nobody verified. ``verified`` trusts only the identities listed in ``[matrix]
trusted_identities`` (``@user:server``, optionally followed by the master key).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from twisted.logger import Logger

from kojibot.adapters.matrix import signing
from kojibot.adapters.matrix.saved import write_private

log = Logger(namespace="kojibot.matrix")


def listed_identities(entries: tuple[str, ...]) -> dict[str, str]:
    """``[matrix] trusted_identities`` (checked by kojibot.config): user → master key, ``""``
    when the entry pins none (spaces inside the key go)."""
    listed = {}
    for entry in entries:
        user, *key = entry.split()
        listed[user] = "".join(key)
    return listed


@dataclass(frozen=True)
class Identity:
    master: str | None  # None: the person has no cross-signing identity
    self_signing: str | None  # None: missing, or not signed by the master key
    signed: frozenset[tuple[str, str]]  # (device id, its ed25519 key) the self-signing key signed


def identity_of(raw: Mapping, user: str) -> Identity:
    """What a /keys/query answer says about *user*, every signature checked."""
    master_obj = (raw.get("master_keys") or {}).get(user)
    master = signing.key_of(master_obj) if _usage(master_obj, user, "master") else None
    ssk_obj = (raw.get("self_signing_keys") or {}).get(user)
    ssk = signing.key_of(ssk_obj) if master and _usage(ssk_obj, user, "self_signing") \
        and signing.verifies(ssk_obj, user, master) else None
    signed = set()
    for device_id, device in ((raw.get("device_keys") or {}).get(user) or {}).items():
        ed25519 = (device.get("keys") or {}).get(f"ed25519:{device_id}") \
            if isinstance(device, Mapping) else None
        if ssk and isinstance(ed25519, str) and device.get("user_id") == user \
                and device.get("device_id") == device_id and signing.verifies(device, user, ssk):
            signed.add((device_id, ed25519))
    return Identity(master, ssk, frozenset(signed))


def _usage(obj: object, user: str, usage: str) -> bool:
    return isinstance(obj, Mapping) and obj.get("user_id") == user \
        and usage in (obj.get("usage") or ())


class Identities:
    """The identities seen, the pins, and the verdict on each device."""

    def __init__(self, policy: str, pins: Path | None, trusted: tuple[str, ...] = ()):
        self.policy, self.pins_path = policy, pins
        self.listed = listed_identities(trusted)
        self.known: dict[str, Identity] = {}
        self.pins: dict[str, str] = self._load()

    def _load(self) -> dict[str, str]:
        try:
            data = json.loads(self.pins_path.read_text()) if self.pins_path else {}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warn("ignoring unreadable {path}: {why}", path=str(self.pins_path), why=exc)
            return {}
        return {user: key for user, key in data.items() if isinstance(key, str)} \
            if isinstance(data, dict) else {}

    def learn(self, raw: Mapping, users: list[str]) -> list[str]:
        """Take the /keys/query answer about *users* (one the server could not answer for
        counts as having no identity until the next query); the users whose pinned
        identity changed."""
        changed = []
        for user in users:
            identity = self.known[user] = identity_of(raw, user)
            pinned = self.pins.get(user)
            if identity.master is None or pinned == identity.master or self.policy != "tofu":
                continue
            if pinned is None:
                log.info("pinned the identity of {user} on first sight (master key {key})",
                         user=user, key=identity.master)
            else:
                log.warn("the identity of {user} changed (master key {old} became {new}); "
                         "trusting the devices the new one signed", user=user, old=pinned,
                         new=identity.master)
                changed.append(user)
            self.pins[user] = identity.master
            if self.pins_path is not None:
                write_private(self.pins_path, json.dumps(self.pins, indent=1, sort_keys=True))
        return changed

    def verdict(self, user: str, device_id: str, ed25519: str) -> tuple[bool, str]:
        """Whether the device of *user* (whose keys were learned) is trusted, and why."""
        identity = self.known[user]
        if identity.master is None:
            return False, f"{user} has no cross-signing identity"
        if self.policy == "verified":
            listed = self.listed.get(user)
            if listed is None:
                return False, f"{user} is not listed in trusted_identities"
            if listed and listed != identity.master:
                return False, (f"the master key of {user} is not the one listed in "
                               "trusted_identities")
        if identity.self_signing is None:
            return False, f"the identity of {user} has no valid self-signing key"
        if (device_id, ed25519) not in identity.signed:
            return False, "its owner did not sign it"
        return True, f"signed by its owner's identity (master key {identity.master})"
