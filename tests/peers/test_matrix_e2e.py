"""The whole bot in end-to-end encrypted Matrix rooms on a real Synapse: the packagers are
encrypting matrix-nio clients (tests/e2euser.py), so every answer they read has been
decrypted on their side. Mentions, threads and inert Koji text too."""

import itertools
import json
import stat
from types import SimpleNamespace

import pytest_twisted

from kojibot.adapters.matrix import crypto
from tests.e2euser import E2EUser, decrypted_answer
from tests.peers.test_bot_matrix import bot_settings, start_bot
from tests.peers.test_relay import build_change
from tests.statedb import drained

_names = itertools.count(1)


async def e2e_env(kojihub, synapse, tmp_path, extra=""):
    n = next(_names)
    account = synapse.register(f"e2ebot-{n}")
    person = synapse.register(f"e2epackager-{n}")
    settings = bot_settings(kojihub, synapse, tmp_path / "bot", account, extra)
    bot = await start_bot(settings)
    alice = await E2EUser.login(synapse.url, person, tmp_path / "alice", "laptop")
    return SimpleNamespace(bot=bot, settings=settings, alice=alice, person=person,
                           me=account["user_id"], n=n, state=tmp_path / "bot")


def adapter(env):
    return env.bot.adapters["matrix"]


async def ask(user, room, me, command, **kw):
    asked = await user.send(room, command, **kw)
    return (await user.wait_event(room, decrypted_answer(me, asked), timeout=30)).source


@pytest_twisted.ensureDeferred
async def test_encrypted_dm_and_room_get_decryptable_answers_across_a_restart(
        kojihub, synapse, hub_proxy, tmp_path, logged):
    env = await e2e_env(kojihub, synapse, tmp_path)
    alice, me = env.alice, env.me
    try:
        dm = await alice.create_room(invite=(me,), is_direct=True)  # as Element opens a DM
        group = await alice.create_room(invite=(me,), name="packagers")
        for room in (dm, group):
            await alice.wait_member(room, me)
        task_id = kojihub.facts["builds"]["complete"]["task_id"]
        owner = hub_proxy.getUser(hub_proxy.getTaskInfo(task_id)["owner"])["name"]
        in_dm = await ask(alice, dm, me, f"task {task_id}")
        assert in_dm["content"]["body"].startswith(f"Task {task_id} build ")
        assert f"CLOSED by {owner}" in in_dm["content"]["body"]
        in_room = await ask(alice, group, me, f"!task {task_id}")
        assert in_room["content"]["body"] == in_dm["content"]["body"]
        assert in_room["content"]["m.mentions"] == {"user_ids": [alice.user_id]}
        for room in (dm, group):  # nothing the bot said there went out in the clear
            assert not [e for e in alice.events(room) if e.sender == me
                        and e.source.get("type") == "m.room.message"
                        and not getattr(e, "decrypted", False)]
        assert [line for line in logged if "trusting device" in line and alice.device_id in line]
        store = crypto.store_dir(env.state, me)
        assert stat.S_IMODE(store.stat().st_mode) == 0o700
        assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in store.iterdir())
        device = adapter(env).client.device_id

        await env.bot.stopService()
        env.bot = await start_bot(env.settings)
        assert adapter(env).client.device_id == device
        login = json.loads((env.state / f"matrix-{me[1:].replace(':', '_')}.login.json")
                           .read_text())
        assert login["device_id"] == device
        again = await ask(alice, group, me, f"!task {task_id}")
        assert again["content"]["body"] == in_room["content"]["body"]

        phone = await E2EUser.login(synapse.url, env.person, tmp_path / "phone", "phone")
        try:
            await alice.sync(0)  # the laptop learns of the phone, and shares its keys on
            asked = await alice.send(group, f"!task {task_id}")
            on_phone = await phone.wait_event(group, decrypted_answer(me, asked), timeout=30)
            assert on_phone.source["content"]["body"] == in_room["content"]["body"]
        finally:
            await phone.close()
    finally:
        await alice.close()
        await env.bot.stopService()


@pytest_twisted.ensureDeferred
async def test_alerts_go_to_the_encrypted_dm_the_person_opened(
        kojihub, synapse, hub_proxy, tmp_path):
    env = await e2e_env(kojihub, synapse, tmp_path)
    alice, me = env.alice, env.me
    try:
        dm = await alice.create_room(invite=(me,), is_direct=True)
        await alice.wait_member(dm, me)
        task_id = kojihub.facts["builds"]["complete"]["task_id"]
        owner = hub_proxy.getUser(hub_proxy.getTaskInfo(task_id)["owner"])["name"]
        linked = await ask(alice, dm, me, f"iam {owner}")
        assert linked["content"]["body"].startswith(  # the id is there, inert
            f"Linked @\u2060{alice.user_id[1:]} to Koji user {owner}.")
        on = await ask(alice, dm, me, "alerts on")
        assert "complete" in on["content"]["body"]
        package = f"e2epkg{env.n}"
        assert await env.bot.relay.handle([build_change(980_000 + env.n, package, 1,
                                                        owner=owner)]) == ["ack"]
        alert = await alice.wait_event(dm, lambda e: getattr(e, "decrypted", False)
                                       and e.sender == me
                                       and package in e.source["content"].get("body", ""),
                                       timeout=30)
        assert "COMPLETE" in alert.source["content"]["body"]
        await drained(env.bot.store, 10)
        assert not alice.invites  # no second DM room was opened
    finally:
        await alice.close()
        await env.bot.stopService()


@pytest_twisted.ensureDeferred
async def test_threads_mentions_and_inert_koji_text(kojihub, synapse, tmp_path):
    env = await e2e_env(kojihub, synapse, tmp_path)
    alice, me = env.alice, env.me
    try:
        room = await alice.create_room(invite=(me,))
        await alice.wait_member(room, me)
        root = await alice.send(room, "thread about builds")
        answer = await ask(alice, room, me, "!frob", thread=root)
        relates = answer["content"]["m.relates_to"]
        assert relates["rel_type"] == "m.thread" and relates["event_id"] == root
        assert answer["content"]["m.mentions"] == {"user_ids": [alice.user_id]}
        assert f'href="https://matrix.to/#/{alice.user_id}"' in answer["content"][
            "formatted_body"]
        package = f"loud{env.n}"
        await ask(alice, room, me, f"!subscribe package {package} all")
        assert await env.bot.relay.handle([build_change(990_000 + env.n, package, 3,
                                                        owner="@room")]) == ["ack"]
        line = await alice.wait_event(room, lambda e: getattr(e, "decrypted", False)
                                      and e.sender == me and e.source["content"].get(
                                          "body", "").startswith(package), timeout=30)
        content = line.source["content"]
        assert content["m.mentions"] == {}
        assert "room" in content["body"] and "@room" not in content["body"]
        assert "@room" not in content["formatted_body"]
    finally:
        await alice.close()
        await env.bot.stopService()


@pytest_twisted.ensureDeferred
async def test_the_refuse_policy_keeps_no_crypto_store(kojihub, synapse, tmp_path):
    env = await e2e_env(kojihub, synapse, tmp_path, extra="encryption = refuse\n")
    try:
        assert not adapter(env).crypto.enabled
        assert not crypto.store_dir(env.state, env.me).exists()
    finally:
        await env.alice.close()
        await env.bot.stopService()
