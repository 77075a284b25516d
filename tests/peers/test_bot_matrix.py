"""The whole bot on a real Synapse, asking the real hub: scripted Matrix users talk to it.

The bot's networks are started the way the ``kojibot`` command starts them (``cli._networks``),
so the last test has IRC (ngircd) and Matrix answering in one process.
"""

import itertools
from types import SimpleNamespace

import pytest_twisted
from twisted.internet import reactor

from kojibot import config
from kojibot.adapters.matrix import rooms
from kojibot.bot import Bot
from kojibot.chat.message import text, to_json
from kojibot.chat.render import strip_irc_formatting
from kojibot.cli import _networks
from kojibot.state.store import OutboxEntry
from tests.busmessages import until
from tests.ircuser import IRCUser
from tests.peers.test_relay import build_change
from tests.statedb import drained
from tests.synapse import from_bot

_names = itertools.count(1)


def bot_settings(kojihub, synapse, state, account, extra=""):
    return config.parse(
        f"[bot]\nrate = 1000\nstate = {state}/state.sqlite3\n"
        f"[koji]\nserver = {kojihub.url}\nweburl = {kojihub.weburl}\n"
        f"[matrix]\nhomeserver = {synapse.url}\nuser_id = {account['user_id']}\n"
        f"password = {account['password']}\n" + extra)


async def start_bot(settings):
    bot = Bot(settings)
    networks = _networks(settings, bot)
    for name in networks:
        bot.adapters[name].retry_policy = lambda attempt: 0.3
    bot.startService()
    for name in networks:
        await bot.adapters[name].when_ready().addTimeout(20, reactor)
    return bot


@pytest_twisted.async_yield_fixture
async def matrix(kojihub, synapse, tmp_path):
    """A bot on Synapse, a packager (room creator: power 100) and a room they share."""
    n = next(_names)
    account = synapse.register(f"kojibot-{n}")
    alice = synapse.user(synapse.register(f"packager-{n}"))
    settings = bot_settings(kojihub, synapse, tmp_path, account)
    env = SimpleNamespace(bot=await start_bot(settings), settings=settings, alice=alice,
                          me=account["user_id"], n=n)
    env.room = await alice.create_room(invite=[env.me], name=f"koji {n}")
    await alice.wait_member(env.room, env.me)
    yield env
    await env.bot.stopService()


def answer_to(bot_id, event_id):
    return lambda e: (from_bot(bot_id)(e) and e["content"].get("m.relates_to", {})
                      .get("m.in_reply_to", {}).get("event_id") == event_id)


@pytest_twisted.ensureDeferred
async def test_task_in_a_room_gets_an_html_reply_with_hub_values(matrix, kojihub, hub_proxy):
    task_id = kojihub.facts["builds"]["complete"]["task_id"]
    owner = hub_proxy.getUser(hub_proxy.getTaskInfo(task_id)["owner"])["name"]
    asked = await matrix.alice.send(matrix.room, f"!task {task_id}")
    reply = await matrix.alice.wait_event(matrix.room, answer_to(matrix.me, asked))
    content = reply["content"]
    url = f"{kojihub.weburl}/taskinfo?taskID={task_id}"
    assert content["msgtype"] == "m.notice" and content["format"] == "org.matrix.custom.html"
    assert content["body"].startswith(f"Task {task_id} build ")
    assert f"CLOSED by {owner}" in content["body"] and content["body"].endswith(url)
    html = content["formatted_body"]
    assert '<font color="#009300" data-mx-color="#009300">CLOSED</font>' in html
    assert f'<a href="{url.replace("&", "&amp;")}">' in html
    assert content["m.mentions"] == {"user_ids": [matrix.alice.user_id]}


@pytest_twisted.ensureDeferred
async def test_subscriptions_need_power_and_relayed_events_reach_the_room(matrix, synapse):
    bob = synapse.user(synapse.register(f"bystander-{matrix.n}"))
    await matrix.alice.call("POST", f"/rooms/{matrix.room}/invite", {"user_id": bob.user_id})
    await bob.join(matrix.room)
    package = f"mxpkg{matrix.n}"
    asked = await bob.send(matrix.room, f"!subscribe package {package}")
    refused = await matrix.alice.wait_event(matrix.room, answer_to(matrix.me, asked))
    assert refused["content"]["body"] == "!subscribe needs channel operator rights here."
    await matrix.alice.set_power(matrix.room, bob.user_id, 50)  # a moderator may
    asked = await bob.send(matrix.room, f"!subscribe package {package}")
    done = await matrix.alice.wait_event(matrix.room, answer_to(matrix.me, asked))
    assert done["content"]["body"].startswith(f"Subscribed: package {package} (")
    asked = await matrix.alice.send(matrix.room, f"!subscribe package {package} all")
    done = await matrix.alice.wait_event(matrix.room, answer_to(matrix.me, asked))  # creator
    assert done["content"]["body"].startswith(f"Subscribed: package {package} (")
    build_id = 900_000 + matrix.n
    assert await matrix.bot.relay.handle([build_change(build_id, package, 3)]) == ["ack"]
    line = await matrix.alice.wait_event(matrix.room, lambda e: from_bot(matrix.me)(e) and
                                         e["content"]["body"].startswith(f"{package}-1.0-"))
    assert " FAILED " in line["content"]["body"]
    assert '<font color="#ff0000" data-mx-color="#ff0000">FAILED</font>' in \
        line["content"]["formatted_body"]
    assert "m.relates_to" not in line["content"]
    await drained(matrix.bot.store, 10)


@pytest_twisted.ensureDeferred
async def test_a_dm_alert_reaches_the_user_who_can_answer_there(matrix, kojihub):
    alice = matrix.alice
    entry = OutboxEntry("matrix", alice.user_id, True, "alert", to_json(text("your build ended")))
    await matrix.bot.store.record_events([(f"dm-{matrix.n}", [entry])])
    matrix.bot.outbox.kick()
    dm, invite = await alice.wait_invite(matrix.me)
    assert invite.get("is_direct") is True
    await alice.join(dm)
    await alice.wait_event(dm, lambda e: e["content"].get("body") == "your build ended")
    nvr = kojihub.facts["builds"]["failed"]["nvr"]
    asked = await alice.send(dm, f"build {nvr}")  # no prefix needed in a DM
    reply = await alice.wait_event(dm, answer_to(matrix.me, asked))
    assert reply["content"]["body"].startswith(f"Build {nvr} FAILED")
    task_id = kojihub.facts["builds"]["complete"]["task_id"]
    asked = await alice.send(dm, f"see {kojihub.weburl}/taskinfo?taskID={task_id}")
    reply = await alice.wait_event(dm, answer_to(matrix.me, asked))  # a pasted link
    assert reply["content"]["body"].startswith(f"Task {task_id} build ")
    await drained(matrix.bot.store, 10)


@pytest_twisted.ensureDeferred
async def test_after_a_restart_old_commands_are_not_answered_again(matrix, kojihub):
    alice, builds = matrix.alice, kojihub.facts["builds"]
    first = await alice.send(matrix.room, f"!build {builds['complete']['nvr']}")
    await alice.wait_event(matrix.room, answer_to(matrix.me, first))
    await matrix.bot.stopService()
    missed = await alice.send(matrix.room, f"!build {builds['failed']['nvr']}")
    for n in range(rooms.TIMELINE_LIMIT + 10):  # more than one sync shows: read back
        await alice.send(matrix.room, f"chatter {n}")
    matrix.bot = await start_bot(matrix.settings)
    await alice.wait_event(matrix.room, answer_to(matrix.me, missed))
    later = await alice.send(matrix.room, "!frob")
    await alice.wait_event(matrix.room, answer_to(matrix.me, later))
    answers = [e["content"]["m.relates_to"]["m.in_reply_to"]["event_id"]
               for e in await alice.messages(matrix.room, limit=200) if from_bot(matrix.me)(e)]
    assert answers == [first, missed, later]


@pytest_twisted.ensureDeferred
async def test_the_bot_resumes_after_synapse_restarts(matrix, synapse, kojihub):
    adapter = matrix.bot.adapters["matrix"]
    synapse.stop()
    await until(lambda: not adapter.ready, 40)
    synapse.start()
    await adapter.when_ready().addTimeout(30, reactor)
    nvr = kojihub.facts["builds"]["failed"]["nvr"]
    asked = await matrix.alice.send(matrix.room, f"!build {nvr}")
    reply = await matrix.alice.wait_event(matrix.room, answer_to(matrix.me, asked))
    assert " FAILED " in reply["content"]["body"]


@pytest_twisted.ensureDeferred
async def test_no_plaintext_in_encrypted_rooms(matrix, synapse, kojihub, tmp_path, logged):
    """With ``encryption = refuse`` (and what happens without the e2e extra)."""
    await matrix.bot.stopService()
    matrix.settings = bot_settings(kojihub, synapse, tmp_path, {
        "user_id": matrix.me, "password": "secret-pw"}, extra="encryption = refuse\n")
    matrix.bot = await start_bot(matrix.settings)
    alice, me = matrix.alice, matrix.me
    package = f"secret{matrix.n}"
    asked = await alice.send(matrix.room, f"!subscribe package {package}")
    await alice.wait_event(matrix.room, answer_to(me, asked))
    await alice.enable_encryption(matrix.room)
    dm, _ = await alice.wait_invite(me)  # the bot says why it goes quiet, in a DM
    await alice.join(dm)
    note = await alice.wait_event(dm, from_bot(me))
    assert "end-to-end encrypted" in note["content"]["body"]
    await alice.send(matrix.room, f"!task {kojihub.facts['builds']['complete']['task_id']}")
    await matrix.bot.relay.handle([build_change(950_000 + matrix.n, package, 1)])
    await drained(matrix.bot.store, 10)  # handled: dropped, logged
    assert [line for line in logged if "not posting in encrypted" in line
            and matrix.room in line and package in line]
    carol = synapse.user(synapse.register(f"carol-{matrix.n}"))
    secret = await carol.create_room(invite=[me], encrypted=True)
    dm_carol, _ = await carol.wait_invite(me)
    await carol.join(dm_carol)
    told = await carol.wait_event(dm_carol, from_bot(me))
    assert secret in told["content"]["body"]
    asked = await alice.send(dm, "!frob")  # the bot is still listening where it may talk
    await alice.wait_event(dm, answer_to(me, asked))
    events = await alice.messages(matrix.room)
    turned_on = next(i for i, e in enumerate(events) if e["type"] == "m.room.encryption")
    assert not [e for e in events[turned_on:] if e["sender"] == me and e["type"] in
                ("m.room.message", "m.room.encrypted")]
    assert not [e for e in await carol.messages(secret) if e["sender"] == me and
                e["type"] == "m.room.message"]
    for room in (matrix.room, secret):  # one warning per room
        assert len([line for line in logged if line.startswith(f"{room} is end-to-end")]) == 1


@pytest_twisted.ensureDeferred
async def test_irc_and_matrix_answer_in_one_process(kojihub, synapse, ngircd, tmp_path):
    n = next(_names)
    account = synapse.register(f"kojibot-both-{n}")
    channel, nick = f"#koji-mx-{n}", f"kojimx{n}"
    settings = bot_settings(kojihub, synapse, tmp_path, account, extra=(
        f"[irc]\nhost = 127.0.0.1\nport = {ngircd.port}\ntls = no\nnick = {nick}\n"
        f"channels = {channel}\nline_rate = 5\n"))
    irc_user = await IRCUser.connect(ngircd.port, f"ircpackager{n}")
    await irc_user.join(channel)
    bot = await start_bot(settings)
    try:
        assert sorted(bot.adapters) == ["irc", "matrix"]
        alice = synapse.user(synapse.register(f"both-{n}"))
        room = await alice.create_room(invite=[account["user_id"]])
        await alice.wait_member(room, account["user_id"])
        nvr = kojihub.facts["builds"]["complete"]["nvr"]
        asked = await alice.send(room, f"!build {nvr}")
        irc_user.say(channel, f"!build {nvr}")
        heard = await irc_user.wait_line(
            lambda h: h.nick == nick and h.command == "PRIVMSG", timeout=20)
        reply = await alice.wait_event(room, answer_to(account["user_id"], asked))
        assert strip_irc_formatting(heard.text) == f"{irc_user.nick}: {reply['content']['body']}"
    finally:
        await irc_user.quit()
        await bot.stopService()
