"""The bot's cross-signing identity on a real Synapse: the first start makes the identity,
later starts (same store, new store with the key from a file or the environment, no key) join
it or say why not, a token-only login bootstraps too, and a person's device their identity did
not sign gets neither answers nor room keys. What the server holds is checked here with
``cryptography`` directly, not with the bot's code (the pure parts: tests/unit/kojibot/adapters/
matrix/test_crosssigning.py).
"""

import json
import stat
import urllib.parse
import urllib.request

import nio
import pytest_twisted

from kojibot.adapters.matrix import recoverykey, signing
from tests.busmessages import until
from tests.e2euser import E2EUser, public
from tests.peers.test_matrix_adapter import Echo
from tests.synapse import MatrixUser, sleep
from tests.unit.kojibot.adapters.matrix.test_crosssigning import (
    independent_decrypt,
    verifies,
)


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
