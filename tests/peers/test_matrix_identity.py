"""The bot's cross-signing identity and trust by identity.

First the pure parts (recovery key, canonical JSON and signatures with the spec's own
vectors, secret storage), then the adapter on a real Synapse: the first start makes the
identity, later starts (same store, new store with the key from a file or the environment,
no key) join it or say why not, a token-only login bootstraps too, and a person's device
their identity did not sign gets neither answers nor room keys. What the server holds is
checked here with ``cryptography`` directly, not with the bot's code.
"""

import base64
import hashlib
import hmac
import json
import stat
import urllib.parse
import urllib.request

import nio
import pytest
import pytest_twisted
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kojibot.adapters.matrix import recoverykey, secretstorage, signing
from kojibot.adapters.matrix.identities import Identities
from tests.busmessages import until
from tests.e2euser import E2EUser, public
from tests.peers.test_matrix_adapter import Echo
from tests.synapse import MatrixUser, sleep

SPEC_SEED = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"  # the spec's signing-JSON example


def unb64(text):
    return base64.b64decode(text + "=" * (-len(text) % 4))


# --- without a server ---------------------------------------------------------------

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


# --- on a real Synapse ----------------------------------------------------------------

def verifies(obj, user, key):
    """*obj* signed by *user*'s Ed25519 *key*, checked apart from the bot's code."""
    signature = obj["signatures"][user][f"ed25519:{key}"]
    bare = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    text = json.dumps(bare, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    Ed25519PublicKey.from_public_bytes(unb64(key)).verify(unb64(signature), text.encode())
    return True


def only_key(obj):
    (key,) = obj["keys"].values()
    return key


async def published(adapter):
    """What the server says about the bot's account: its master key, and whether the
    adapter's device is signed by the account's self-signing key."""
    client = adapter.client
    me = MatrixUser(client.homeserver, client.user_id, client.access_token)
    keys = await me.call("POST", "/keys/query", {"device_keys": {client.user_id: []}})
    user = client.user_id
    master, ssk = keys["master_keys"][user], keys["self_signing_keys"][user]
    assert verifies(ssk, user, only_key(master)) and verifies(
        keys["user_signing_keys"][user], user, only_key(master))
    device = keys["device_keys"][user][client.device_id]
    try:
        signed = verifies(device, user, only_key(ssk))
    except KeyError:
        signed = False
    return only_key(master), signed, only_key(ssk)


async def account_data(adapter, kind):
    client = adapter.client
    me = MatrixUser(client.homeserver, client.user_id, client.access_token)
    return await me.call("GET", f"/user/{urllib.parse.quote(client.user_id)}/account_data/"
                         f"{kind}")


async def started(echo):
    await echo.start()
    return echo.adapter


@pytest_twisted.ensureDeferred
async def test_the_first_start_makes_the_identity_and_every_later_device_joins_it(
        synapse, tmp_path, logged, monkeypatch):
    account = synapse.register("xs-bot", password="pw-not-in-logs")
    everything = []  # every line logged in this test
    first = Echo(synapse, tmp_path / "one", account)
    adapter = await started(first)
    master, signed, ssk = await published(adapter)
    device = adapter.client.device_id
    assert signed
    key_file = tmp_path / "one" / "matrix-xs-bot_localhost.recovery-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    shown = key_file.read_text().strip()
    (line,) = [line for line in logged if "created the cross-signing identity" in line]
    assert str(key_file) in line and "keep a copy elsewhere" in line and master in line
    assert not [line for line in logged if shown in line or "".join(shown.split()) in line]
    default = (await account_data(adapter, "m.secret_storage.default_key"))["key"]
    stored = (await account_data(adapter, "m.cross_signing.self_signing"))["encrypted"][default]
    seed = independent_decrypt(recoverykey.decode(shown), "m.cross_signing.self_signing", stored)
    assert signing.public_key(signing.from_seed(seed.decode())) == ssk
    await first.stop()

    everything.extend(logged)
    logged.clear()
    again = await started(Echo(synapse, tmp_path / "one", account))
    assert again.client.device_id == device and again.crypto.enabled
    assert (await published(again))[:2] == (master, True)
    assert not [line for line in logged if "created the" in line or "signed device" in line]
    await again.stopService()

    monkeypatch.setenv("XS_RECOVERY", shown)
    for name, where in (("two", {"recovery_key_file": str(key_file)}),
                        ("three", {"recovery_key_env": "XS_RECOVERY",
                                   "recovery_key_file": str(tmp_path / "none")})):
        everything.extend(logged)
        logged.clear()
        other = await started(Echo(synapse, tmp_path / name, account, **where))
        assert other.client.device_id != device and other.crypto.enabled
        assert (await published(other))[:2] == (master, True)
        assert [line for line in logged if f"signed device {other.client.device_id}" in line]
        await other.stopService()

    wrong = tmp_path / "wrong.key"
    wrong.write_text(recoverykey.encode(bytes(32)))
    for name, where, why in (("four", {}, "no recovery key"),
                             ("five", {"recovery_key_file": str(wrong)}, "does not open")):
        everything.extend(logged)
        logged.clear()
        keyless = await started(Echo(synapse, tmp_path / name, account, **where))
        assert not keyless.crypto.enabled
        (line,) = [line for line in logged if "is not signed by the account's" in line]
        assert why in line and "encrypted rooms are refused" in line
        assert "left as it is" in line and shown not in line
        assert (await published(keyless))[:2] == (master, False)  # the identity stays
        await keyless.stopService()
    everything.extend(logged)
    assert not [line for line in everything if "pw-not-in-logs" in line or shown in line
                or "".join(shown.split()) in line]


def login_token(synapse, account):
    """A token from a password login, as an operator gets one with curl (README)."""
    request = urllib.request.Request(f"{synapse.url}/_matrix/client/v3/login", data=json.dumps({
        "type": "m.login.password", "password": account["password"],
        "identifier": {"type": "m.id.user", "user": account["user_id"]}}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())["access_token"]


@pytest_twisted.ensureDeferred
async def test_a_token_only_login_makes_the_identity_too(synapse, tmp_path, logged):
    account = synapse.register("xs-token")
    echo = Echo(synapse, tmp_path, {**account, "password": None},
                access_token=login_token(synapse, account))
    adapter = await started(echo)
    assert adapter.crypto.enabled and (await published(adapter))[1]
    assert [line for line in logged if "created the cross-signing identity" in line]
    await echo.stop()
    admin_made = synapse.admin_call(  # Synapse's admin API: a token with no device
        "POST", f"/_synapse/admin/v1/users/{urllib.parse.quote(account['user_id'])}/login",
        {})["access_token"]
    deviceless = Echo(synapse, tmp_path / "two", {**account, "password": None},
                      access_token=admin_made)
    deviceless.adapter.startService()
    await until(lambda: [line for line in logged if "belongs to no device" in line], 20)
    await deviceless.stop()


@pytest_twisted.ensureDeferred
async def test_devices_their_owner_did_not_sign_get_no_answer_and_no_room_key(
        synapse, tmp_path, logged):
    bot = synapse.register("xs-trust-bot")
    alice, bob = synapse.register("xs-alice"), synapse.register("xs-bob")
    echo = Echo(synapse, tmp_path / "bot", bot)
    adapter = await started(echo)
    me = bot["user_id"]
    laptop = await E2EUser.login(synapse.url, alice, tmp_path / "laptop", "laptop")
    phone = await E2EUser.login(synapse.url, alice, tmp_path / "phone", "phone", signed=False)
    stranger = await E2EUser.login(synapse.url, bob, tmp_path / "bob", "bob", signed=False)
    try:
        room = await laptop.create_room(invite=(me, bob["user_id"]))
        await laptop.wait_member(room, me)
        await stranger.join(room)
        for user in (phone, stranger):
            await user.wait_member(room, me)
        asked = await laptop.send(room, "!ping")
        answer = await laptop.wait_event(room, lambda e: getattr(e, "decrypted", False)
                                         and e.sender == me, timeout=30)
        assert answer.source["content"]["body"] == "heard: !ping"
        for user in (phone, stranger):  # the answer reached them, its key did not
            missed = await user.wait_event(room, lambda e: e.event_id == answer.event_id)
            assert isinstance(missed, nio.MegolmEvent) and user.decrypt(missed) is None
        for user in (phone, stranger, phone):
            await user.send(room, "!ping from an unsigned device")
        await sleep(2)  # what the bot would have answered by now
        assert [h.text for h in echo.heard] == ["!ping"] and asked
        for device, why in ((phone.device_id, "its owner did not sign it"),
                            (stranger.device_id, f"{bob['user_id']} has no cross-signing "
                                                 "identity")):
            assert len([line for line in logged if "not sharing room keys with device "
                        f"{device}" in line and why in line]) == 1
        assert [line for line in logged if f"trusting device {laptop.device_id}" in line]
        assert [line for line in logged if f"pinned the identity of {alice['user_id']}" in line]
        await until(lambda: adapter.ready, 5)
    finally:
        for user in (laptop, phone, stranger):
            await user.close()
        await echo.stop()


@pytest_twisted.ensureDeferred
async def test_a_changed_identity_is_logged_and_told_once_in_the_dm(synapse, tmp_path, logged):
    bot, person = synapse.register("xs-change-bot"), synapse.register("xs-changer")
    echo = Echo(synapse, tmp_path / "bot", bot)
    await started(echo)
    me, alice = bot["user_id"], person["user_id"]
    laptop = await E2EUser.login(synapse.url, person, tmp_path / "laptop", "laptop")
    reader = synapse.user(person)
    phone = None
    try:
        dm = await laptop.create_room(invite=(me,), is_direct=True)
        await laptop.wait_member(dm, me)
        asked = await laptop.send(dm, "ping")
        await laptop.wait_event(dm, lambda e: getattr(e, "decrypted", False)
                                and e.sender == me, timeout=30)

        async def said():
            """How many (encrypted) messages the bot has sent in the DM."""
            return len([e for e in await reader.messages(dm) if e["sender"] == me
                        and e["type"] == "m.room.encrypted"])

        assert await said() == 1 and asked
        old = public(person.pop("master"))
        del person["self_signing"]
        await laptop.cross_sign(person)  # a new identity, which signs the laptop again
        new = public(person["master"])
        await until(lambda: [line for line in logged if f"identity of {alice} changed" in line],
                    20)
        (line,) = [line for line in logged if f"identity of {alice} changed" in line]
        assert old in line and new in line
        for _ in range(50):
            if await said() == 2:
                break
            await sleep(0.2)
        assert await said() == 2  # the notice, in the DM
        phone = await E2EUser.login(synapse.url, person, tmp_path / "phone", "phone")
        await until(lambda: [line for line in logged if f"trusting device {phone.device_id}"
                             in line and new in line], 20)
        assert await said() == 2  # said once
        assert len([line for line in logged if f"identity of {alice} changed" in line]) == 1
    finally:
        for user in (laptop, phone):
            if user is not None:
                await user.close()
        await echo.stop()
