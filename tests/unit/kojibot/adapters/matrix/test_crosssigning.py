"""The bot's cross-signing identity without a server: recovery key, canonical JSON and
signatures with the spec's own vectors, secret storage, trust by identity. What is signed or
sealed is checked with ``cryptography`` directly, not with the bot's code."""

import base64
import hashlib
import hmac
import json
import stat

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kojibot.adapters.matrix import recoverykey, secretstorage, signing
from kojibot.adapters.matrix.identities import Identities

SPEC_SEED = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"  # the spec's signing-JSON example


def unb64(text):
    return base64.b64decode(text + "=" * (-len(text) % 4))


def test_a_recovery_key_is_base58_in_groups_and_refuses_a_typo():
    key = bytes(range(32))
    shown = recoverykey.encode(key)
    groups = shown.split(" ")
    assert shown.startswith("Es") and len(groups) == 12 and {len(g) for g in groups} == {4}
    assert recoverykey.decode(shown) == key
    assert recoverykey.decode("".join(groups)) == recoverykey.decode(shown.replace(" ", "-"))
    typo = shown[:20] + ("2" if shown[20] != "2" else "3") + shown[21:]
    for bad, why in ((typo, "parity byte does not match"),
                     (shown[:-5], "not a recovery key"), (shown + "0", "not base58")):
        with pytest.raises(ValueError, match=why) as info:
            recoverykey.decode(bad)
        assert shown[5:15] not in str(info.value)  # the message never repeats the key
    assert recoverykey.looks_like(shown) and not recoverykey.looks_like("/etc/kojibot/key")


def test_canonical_json_and_signatures_match_the_spec_examples():
    assert signing.canonical_json({"b": "2", "a": "1"}) == b'{"a":"1","b":"2"}'
    assert signing.canonical_json({"本": 2, "日": 1}) == '{"日":1,"本":2}'.encode()
    assert signing.canonical_json({"a": "\u0000"}) == b'{"a":"\\u0000"}'
    key = signing.from_seed(SPEC_SEED)
    for obj, expected in (({}, "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/"
                               "7Xg4ahLwYGYZzuHGZKM5ZAQ"),
                          ({"one": 1, "two": "Two"},
                           "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6k"
                           "YdD13EIMJpvhJI+6Bw")):
        done = signing.signed(obj, "domain", key)
        assert done["signatures"]["domain"][f"ed25519:{signing.public_key(key)}"] == expected
        assert signing.verifies({**done, "unsigned": {"x": 1}}, "domain", signing.public_key(key))
        assert not signing.verifies({**done, "extra": 1}, "domain", signing.public_key(key))


def independent_decrypt(key, name, item):
    """The spec's aes-hmac-sha2 decryption, written here apart from the bot's."""
    both = HKDF(SHA256(), 64, salt=bytes(32), info=name.encode()).derive(key)
    ciphertext = unb64(item["ciphertext"])
    assert hmac.new(both[32:], ciphertext, hashlib.sha256).digest() == unb64(item["mac"])
    cipher = Cipher(algorithms.AES(both[:32]), modes.CTR(unb64(item["iv"]))).decryptor()
    return cipher.update(ciphertext) + cipher.finalize()


def independent_mac(key, name, plaintext, iv):
    both = HKDF(SHA256(), 64, salt=bytes(32), info=name.encode()).derive(key)
    cipher = Cipher(algorithms.AES(both[:32]), modes.CTR(iv)).encryptor()
    return hmac.new(both[32:], cipher.update(plaintext) + cipher.finalize(),
                    hashlib.sha256).digest()


def test_secret_storage_round_trip_and_the_key_check():
    key, other = bytes(range(32)), bytes(32)
    item = secretstorage.encrypt(key, "m.cross_signing.master", b"a secret")
    assert unb64(item["iv"])[8] & 0x80 == 0  # bit 63 of the IV is clear
    assert independent_decrypt(key, "m.cross_signing.master", item) == b"a secret"
    assert secretstorage.decrypt(key, "m.cross_signing.master", item) == b"a secret"
    for wrong_key, name in ((other, "m.cross_signing.master"), (key, "m.cross_signing.other")):
        with pytest.raises(secretstorage.WrongKey):
            secretstorage.decrypt(wrong_key, name, item)
    tampered = {**item, "ciphertext": base64.b64encode(b"b secret").decode()}
    with pytest.raises(secretstorage.WrongKey):
        secretstorage.decrypt(key, "m.cross_signing.master", tampered)
    description = secretstorage.describe(key)
    assert description["algorithm"] == "m.secret_storage.v1.aes-hmac-sha2"
    assert independent_mac(key, "", bytes(32), unb64(description["iv"])) == unb64(
        description["mac"])  # the key's MAC: 32 zero bytes stored under the name ""
    assert secretstorage.opens(key, description) and not secretstorage.opens(other, description)


def person(user, devices=("PHONE",), signs=("PHONE",)):
    """A /keys/query answer about *user*: a fresh identity that signed *signs*."""
    master, ssk = (Ed25519PrivateKey.generate() for _ in range(2))
    ssk_obj = signing.signed(signing.cross_signing_key(user, "self_signing", ssk), user, master)
    found = {}
    for device_id in devices:
        device = {"user_id": user, "device_id": device_id, "algorithms": [],
                  "keys": {f"ed25519:{device_id}": f"ed-{device_id}"}}
        found[device_id] = signing.signed(device, user, ssk) if device_id in signs else device
    return {"device_keys": {user: found},
            "master_keys": {user: signing.cross_signing_key(user, "master", master)},
            "self_signing_keys": {user: ssk_obj}}, signing.public_key(master)


def test_trust_follows_the_owners_signature_and_tofu_pins_the_master_key(tmp_path):
    pins = tmp_path / "identities.json"
    tofu = Identities("tofu", pins)
    alice, first = person("@alice:x", devices=("PHONE", "OLD"), signs=("PHONE",))
    bob = {"device_keys": {"@bob:x": {"B": {}}}}
    assert tofu.learn(alice, ["@alice:x"]) == [] and tofu.learn(bob, ["@bob:x", "@gone:x"]) == []
    assert tofu.verdict("@alice:x", "PHONE", "ed-PHONE")[0]
    assert tofu.verdict("@alice:x", "OLD", "ed-OLD") == (False, "its owner did not sign it")
    assert not tofu.verdict("@alice:x", "PHONE", "another key")[0]  # the key it signed only
    assert tofu.verdict("@bob:x", "B", "k") == (False, "@bob:x has no cross-signing identity")
    assert not tofu.verdict("@gone:x", "G", "k")[0]  # the server said nothing about them
    assert json.loads(pins.read_text()) == {"@alice:x": first}
    assert stat.S_IMODE(pins.stat().st_mode) == 0o600
    again, second = person("@alice:x")
    restarted = Identities("tofu", pins)  # the pin outlives a restart
    assert restarted.learn(again, ["@alice:x"]) == ["@alice:x"]
    assert json.loads(pins.read_text()) == {"@alice:x": second}
    assert restarted.learn(again, ["@alice:x"]) == []  # said once
    forged = json.loads(json.dumps(again))
    forged["master_keys"]["@alice:x"] = alice["master_keys"]["@alice:x"]  # ssk not signed by it
    restarted.learn(forged, ["@alice:x"])
    assert restarted.verdict("@alice:x", "PHONE", "ed-PHONE") == (
        False, "the identity of @alice:x has no valid self-signing key")


def test_verified_trusts_listed_identities_with_their_listed_key():
    alice, master = person("@alice:x")
    carol, _ = person("@carol:x")
    dave, _ = person("@dave:x")
    verified = Identities("verified", None, (f"@alice:x {master[:8]} {master[8:]}",
                                             f"@carol:x {master}", "@dave:x"))
    for raw, user in ((alice, "@alice:x"), (carol, "@carol:x"), (dave, "@dave:x")):
        verified.learn(raw, [user])
    assert verified.verdict("@alice:x", "PHONE", "ed-PHONE")[0]
    assert verified.verdict("@dave:x", "PHONE", "ed-PHONE")[0]  # listed without a key
    assert verified.verdict("@carol:x", "PHONE", "ed-PHONE") == (
        False, "the master key of @carol:x is not the one listed in trusted_identities")
    erin, _ = person("@erin:x")
    verified.learn(erin, ["@erin:x"])
    assert verified.verdict("@erin:x", "PHONE", "ed-PHONE") == (
        False, "@erin:x is not listed in trusted_identities")


def verifies(obj, user, key):
    """*obj* signed by *user*'s Ed25519 *key*, checked apart from the bot's code."""
    signature = obj["signatures"][user][f"ed25519:{key}"]
    bare = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    text = json.dumps(bare, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    Ed25519PublicKey.from_public_bytes(unb64(key)).verify(unb64(signature), text.encode())
    return True
