"""The bot as Element users meet it in 2026: every person here is Element's own crypto stack
(matrix-js-sdk with its Rust crypto, tests/elementperson.py) on the real Synapse. They
cross-sign their own devices at first login and turn on "exclude insecure devices"
(MSC4153), so a bot device its owner did not sign gets no room keys and its messages do not
decrypt: every answer read here proves the bot's device is cross-signed.

The first two tests need no cross-signing bot: with exclusion off (the pre-2026 default)
the DM works with any bot, and the people withhold their keys from their own unsigned
devices as Element does."""

import itertools
import stat
from types import SimpleNamespace

import pytest
import pytest_twisted
from twisted.internet import reactor

from kojibot import config
from tests.busmessages import FEDORA_BUILD, fedora_build, publish
from tests.chatbots import blocking
from tests.elementperson import ElementPerson, ElementUnavailable, install_dir, node
from tests.peers.test_alerts_watch_e2e import delete_queue
from tests.peers.test_bot_matrix import start_bot

_names = itertools.count(1)
WITHHELD = ("MEGOLM_KEY_WITHHELD", "MEGOLM_KEY_WITHHELD_FOR_UNVERIFIED_DEVICE",
            "MEGOLM_UNKNOWN_INBOUND_SESSION_ID")


@pytest_twisted.async_yield_fixture
async def people(synapse, tmp_path):
    """Starts Element people (one Node process per device) and stops them all at the end."""
    started: list[ElementPerson] = []

    async def login(account, device, *, bootstrap=True, exclude=True):
        try:
            person = await ElementPerson.login(synapse.url, account, tmp_path / "element",
                                               device)
        except ElementUnavailable as exc:
            pytest.fail(f"Element's crypto stack unavailable: {exc}", pytrace=False)
        started.append(person)
        if bootstrap:
            await person.bootstrap()
        await person.exclude_insecure_devices(exclude)
        return person

    yield login
    for person in started:
        await person.stop()


def bot_config(kojihub, synapse, state, user_id, login_lines, extra=""):
    return config.parse(
        f"[bot]\nrate = 1000\nstate = {state}/state.sqlite3\n"
        f"[koji]\nserver = {kojihub.url}\nweburl = {kojihub.weburl}\n"
        f"[matrix]\nhomeserver = {synapse.url}\nuser_id = {user_id}\n{login_lines}{extra}")


async def bot_on(kojihub, synapse, state, account, extra="", login_lines=None):
    """The bot (encryption = tofu, the default) with its store in *state*."""
    login_lines = login_lines or f"password = {account['password']}\n"
    settings = bot_config(kojihub, synapse, state, account["user_id"], login_lines, extra)
    bot = await start_bot(settings)
    return SimpleNamespace(bot=bot, settings=settings, me=account["user_id"], state=state,
                           device=bot.adapters["matrix"].client.device_id)


async def master_key(synapse, account, user_id):
    """*user_id*'s cross-signing master key as the server hands it out (None: no identity)."""
    keys = await synapse.user(account).call("POST", "/keys/query",
                                            {"device_keys": {user_id: []}})
    master = keys.get("master_keys", {}).get(user_id)
    return next(iter(master["keys"].values())) if master else None


def task_facts(kojihub, hub_proxy):
    task_id = kojihub.facts["builds"]["complete"]["task_id"]
    owner = hub_proxy.getUser(hub_proxy.getTaskInfo(task_id)["owner"])["name"]
    return task_id, owner


async def ask_task(person, room, me, task_id, owner):
    """``!task N`` from *person*; the bot's reply as their device decrypted it."""
    answer = await person.ask(room, f"!task {task_id}", me)
    assert answer["encrypted"] and answer["failure"] is None
    assert answer["body"].startswith(f"Task {task_id} build ")
    assert f"CLOSED by {owner}" in answer["body"]
    return answer


async def dm_with(person, me):
    dm = await person.create_dm(me)
    await person.wait_member(dm, me)
    return dm


async def assert_signed(person, me, device):
    seen = await person.devices(me, include=device)
    assert seen[device]["signed_by_owner"], (
        f"{person.user_id}'s Element sees the bot's device {device} not signed by its owner")


def accounts(synapse, *kinds):
    n = next(_names)
    return n, [synapse.register(f"el{kind}-{n}") for kind in kinds]


def test_a_missing_element_stack_fails_saying_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("KOJIBOT_TEST_CACHE", str(tmp_path))
    with pytest.raises(ElementUnavailable) as info:
        node()
    assert str(info.value) == (
        f"Node 22 and matrix-js-sdk are not installed in {install_dir()}; run "
        "tests/install-deps (or: python3 -m tests.elementperson install)")


@pytest_twisted.ensureDeferred
async def test_exclusion_off_an_element_dm_gets_the_hubs_values(
        kojihub, synapse, hub_proxy, tmp_path, people):
    """Element before 2026: no exclusion, so the DM works whether or not the bot signs."""
    _, (bot_account, person) = accounts(synapse, "bot", "alice")
    env = await bot_on(kojihub, synapse, tmp_path / "bot", bot_account)
    try:
        alice = await people(person, "laptop", exclude=False)
        assert alice.identity["master_key"] and alice.identity["recovery_key"]
        dm = await dm_with(alice, env.me)
        answer = await ask_task(alice, dm, env.me, *task_facts(kojihub, hub_proxy))
        assert answer["content"]["msgtype"] == "m.notice"
    finally:
        await env.bot.stopService()


@pytest_twisted.ensureDeferred
async def test_element_people_exclude_an_unsigned_device_among_themselves(synapse, people):
    """The person is as strict as Element: their own device that they did not sign gets
    no room key from them, while a cross-signed person's device decrypts."""
    _, (first, second) = accounts(synapse, "alice", "bob")
    alice = await people(first, "laptop")
    bob = await people(second, "desktop")
    tablet = await people(first, "tablet", bootstrap=False, exclude=False)
    room = await alice.create_room(invite=(bob.user_id,))
    await bob.join(room)
    await alice.wait_member(room, bob.user_id)
    assert (await alice.devices(bob.user_id, include=bob.device_id))[bob.device_id][
        "signed_by_owner"]
    said = await alice.send(room, "hello")
    assert (await bob.wait_event(room, sender=alice.user_id))["body"] == "hello"
    held = await tablet.wait_event(room, sender=alice.user_id,
                                   failure="MEGOLM_KEY_WITHHELD_FOR_UNVERIFIED_DEVICE")
    assert held["event_id"] == said


@pytest_twisted.ensureDeferred
async def test_element_dm_with_exclusion_on_decrypts_and_the_bot_is_signed(
        kojihub, synapse, hub_proxy, tmp_path, people, logged):
    _, (bot_account, person) = accounts(synapse, "bot", "alice")
    state = tmp_path / "bot"
    env = await bot_on(kojihub, synapse, state, bot_account)
    try:
        alice = await people(person, "laptop")
        dm = await dm_with(alice, env.me)
        answer = await ask_task(alice, dm, env.me, *task_facts(kojihub, hub_proxy))
        assert answer["shield"]["reason"] is None, answer["shield"]
        await assert_signed(alice, env.me, env.device)
        keyfiles = [path for path in state.rglob("*") if "recovery" in path.name]
        assert len(keyfiles) == 1, keyfiles
        assert stat.S_IMODE(keyfiles[0].stat().st_mode) == 0o600
        key = keyfiles[0].read_text().strip()
        named = [line for line in logged if str(keyfiles[0]) in line]
        assert len(named) == 1, named
        assert not [line for line in logged if key in line or key.replace(" ", "") in line]
    finally:
        await env.bot.stopService()


@pytest_twisted.ensureDeferred
async def test_restart_and_a_fresh_store_with_the_recovery_key_keep_the_identity(
        kojihub, synapse, hub_proxy, tmp_path, people):
    _, (bot_account, person) = accounts(synapse, "bot", "alice")
    facts = task_facts(kojihub, hub_proxy)
    env = await bot_on(kojihub, synapse, tmp_path / "bot", bot_account)
    alice = await people(person, "laptop")
    dm = await dm_with(alice, env.me)
    await ask_task(alice, dm, env.me, *facts)
    identity = await master_key(synapse, person, env.me)
    assert identity
    (keyfile,) = [path for path in env.state.rglob("*") if "recovery" in path.name]
    kept = tmp_path / "operator-copy.key"  # the copy the operator keeps elsewhere
    kept.write_text(keyfile.read_text())
    kept.chmod(0o600)

    await env.bot.stopService()
    first = env.device
    env = await bot_on(kojihub, synapse, env.state, bot_account)
    try:
        restarted = env.device
        assert restarted == first
        await assert_signed(alice, env.me, restarted)
        await ask_task(alice, dm, env.me, *facts)
    finally:
        await env.bot.stopService()

    fresh = tmp_path / "new-machine"
    env = await bot_on(kojihub, synapse, fresh, bot_account,
                       extra=f"recovery_key_file = {kept}\n")
    try:
        assert env.device != restarted
        assert await master_key(synapse, person, env.me) == identity
        await assert_signed(alice, env.me, env.device)
        await ask_task(alice, dm, env.me, *facts)
    finally:
        await env.bot.stopService()


@pytest_twisted.ensureDeferred
async def test_an_identity_made_in_element_is_joined_with_its_key_and_never_reset(
        kojihub, synapse, hub_proxy, tmp_path, people, logged, monkeypatch):
    """The operator set the bot's account up in Element: it has an identity and a recovery
    key. Without the key the bot says so in one line and leaves the identity alone; given
    it (here in an environment variable, as a container gets it), the bot's device joins
    that identity."""
    _, (bot_account, person) = accounts(synapse, "bot", "alice")
    operator = await people(bot_account, "operator-browser")
    identity = operator.identity["master_key"]
    assert await master_key(synapse, person, bot_account["user_id"]) == identity
    await operator.stop()

    missing = tmp_path / "nowhere" / "recovery.key"
    env = await bot_on(kojihub, synapse, tmp_path / "bot-without-key", bot_account,
                       extra=f"recovery_key_file = {missing}\n")
    await env.bot.stopService()
    said = [line for line in logged if "recovery key" in line.lower()]
    assert len(said) == 1 and str(missing) in said[0], said
    assert "Traceback" not in "\n".join(logged)
    assert await master_key(synapse, person, bot_account["user_id"]) == identity
    assert not missing.exists()

    monkeypatch.setenv("KOJIBOT_TEST_RECOVERY_KEY", operator.identity["recovery_key"])
    env = await bot_on(kojihub, synapse, tmp_path / "bot-with-key", bot_account,
                       extra="recovery_key_env = KOJIBOT_TEST_RECOVERY_KEY\n")
    try:
        assert await master_key(synapse, person, env.me) == identity
        alice = await people(person, "laptop")
        dm = await dm_with(alice, env.me)
        await ask_task(alice, dm, env.me, *task_facts(kojihub, hub_proxy))
        await assert_signed(alice, env.me, env.device)
    finally:
        await env.bot.stopService()


@pytest_twisted.ensureDeferred
async def test_an_alert_from_the_bus_decrypts_in_the_element_dm(
        kojihub, synapse, hub_proxy, rabbitmq, tmp_path, people):
    n, (bot_account, person) = accounts(synapse, "bot", "alice")
    queue = f"kojibot-element-{n}"
    env = await bot_on(kojihub, synapse, tmp_path / "bot", bot_account,
                       extra=f"[amqp]\nurl = {rabbitmq.url}\nqueue = {queue}\n")
    try:
        await env.bot.getServiceNamed("amqp").when_consuming().addTimeout(30, reactor)
        alice = await people(person, "laptop")
        dm = await dm_with(alice, env.me)
        _, owner = task_facts(kojihub, hub_proxy)
        for command, start in ((f"iam {owner}", "Linked "), ("alerts on", "Alerts on")):
            asked = await alice.send(dm, command)
            said = await alice.wait_event(dm, sender=env.me, reply_to=asked, timeout=30)
            assert said["body"].startswith(start), said["body"]
        build_id = 970_000 + n
        await blocking(publish, rabbitmq.url,
                       [(FEDORA_BUILD, fedora_build(build_id, f"elpkg{n}", 1, owner=owner))])
        alert = await alice.wait_event(dm, sender=env.me, contains=f"elpkg{n}-1.0-{build_id}",
                                       timeout=30)
        assert "COMPLETE" in alert["body"] and alert["encrypted"]
    finally:
        await env.bot.stopService()
        await blocking(delete_queue, rabbitmq.url, queue)


@pytest_twisted.ensureDeferred
async def test_group_room_answers_both_people_and_excludes_an_unsigned_device(
        kojihub, synapse, hub_proxy, tmp_path, people, logged):
    _, (bot_account, first, second) = accounts(synapse, "bot", "alice", "bob")
    facts = task_facts(kojihub, hub_proxy)
    env = await bot_on(kojihub, synapse, tmp_path / "bot", bot_account)
    try:
        alice = await people(first, "laptop")
        bob = await people(second, "desktop")
        tablet = await people(first, "tablet", bootstrap=False, exclude=False)  # not signed
        own = await alice.devices(alice.user_id, include=tablet.device_id)
        assert not own[tablet.device_id]["signed_by_owner"]
        room = await alice.create_room(invite=(env.me, bob.user_id), name="packagers")
        await bob.join(room)
        for member in (env.me, bob.user_id):
            await alice.wait_member(room, member)
        await tablet.wait_member(room, env.me)
        to_alice = await ask_task(alice, room, env.me, *facts)
        to_bob = await ask_task(bob, room, env.me, *facts)
        assert to_bob["content"]["m.mentions"] == {"user_ids": [bob.user_id]}
        for answer in (to_alice, to_bob):
            held_back = await tablet.wait_event(room, sender=env.me, failure=True,
                                                after=answer["asked"])
            assert held_back["failure"] in WITHHELD, held_back
        about = [line for line in logged if tablet.device_id in line]
        assert len(about) == 1 and "sign" in about[0] and "trusting" not in about[0], about
    finally:
        await env.bot.stopService()


@pytest_twisted.ensureDeferred
async def test_token_only_login_bootstraps_and_answers_in_the_dm(
        kojihub, synapse, hub_proxy, tmp_path, people):
    """No password anywhere in the bot's config: an access token, as a server on Matrix
    Authentication Service hands a bot (a compatibility session: a token with its device).
    Synapse's admin API (``/users/<id>/login``) issues tokens with no device, on which no
    client can upload device keys, so the token comes from a login done by the operator."""
    _, (bot_account, person) = accounts(synapse, "bot", "alice")
    session = await synapse.user(bot_account).call("POST", "/login", {
        "type": "m.login.password", "identifier": {"type": "m.id.user",
                                                   "user": bot_account["user_id"]},
        "password": bot_account["password"], "initial_device_display_name": "kojibot"})
    env = await bot_on(kojihub, synapse, tmp_path / "bot", bot_account,
                       login_lines=f"access_token = {session['access_token']}\n")
    try:
        assert env.device == session["device_id"]
        assert await master_key(synapse, person, env.me)
        alice = await people(person, "laptop")
        dm = await dm_with(alice, env.me)
        await ask_task(alice, dm, env.me, *task_facts(kojihub, hub_proxy))
        await assert_signed(alice, env.me, env.device)
    finally:
        await env.bot.stopService()
