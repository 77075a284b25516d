"""The Matrix adapter alone (an echoing core) against a real Synapse: saved login, HTTP 429,
invites, kicks, DMs. The whole bot on Matrix is in test_bot_matrix.py."""

import json
import os
import stat

import pytest_twisted
from twisted.internet import reactor

from kojibot.adapters.matrix.homeserver import MatrixAdapter, MatrixSettings
from kojibot.chat.message import text
from kojibot.chat.model import Reply, Target
from tests.busmessages import until
from tests.synapse import from_bot


class Echo:
    """An adapter whose core answers every line with ``heard: <line>``."""

    def __init__(self, synapse, tmp_path, account, **settings):
        self.heard = []
        settings = MatrixSettings(synapse.url, account["user_id"],
                                  password=account["password"], **settings)
        self.adapter = MatrixAdapter(settings, self.receive, state_dir=str(tmp_path),
                                     retry_policy=lambda attempt: 0.2)

    def receive(self, incoming):
        self.heard.append(incoming)
        self.adapter.deliver(Reply.to(incoming, text(f"heard: {incoming.text}")))

    async def start(self):
        self.adapter.startService()
        await self.adapter.when_ready().addTimeout(20, reactor)
        return self.adapter

    async def stop(self):
        await self.adapter.stopService()


@pytest_twisted.ensureDeferred
async def test_password_login_is_saved_private_and_reused(synapse, tmp_path, logged):
    account = synapse.register("mx-login", password="pw-never-logged")
    echo = Echo(synapse, tmp_path, account)
    await echo.start()
    device = echo.adapter.client.device_id
    await echo.stop()
    saved = tmp_path / "matrix-mx-login_localhost.login.json"
    assert stat.S_IMODE(os.stat(saved).st_mode) == 0o600
    assert json.loads(saved.read_text())["device_id"] == device
    again = Echo(synapse, tmp_path, account)
    await again.start()
    assert again.adapter.client.device_id == device  # no second login
    await again.stop()
    data = json.loads(saved.read_text())
    saved.write_text(json.dumps({**data, "access_token": "syt_revoked"}))
    third = Echo(synapse, tmp_path, account)
    await third.start()  # the refused token is replaced by a new password login
    assert json.loads(saved.read_text())["access_token"] not in ("syt_revoked",
                                                               data["access_token"])
    await third.stop()
    assert any("logged in as @mx-login:localhost" in line for line in logged)
    assert not [line for line in logged if "pw-never-logged" in line]


@pytest_twisted.ensureDeferred
async def test_a_configured_access_token_is_used_not_saved(synapse, tmp_path):
    account = synapse.register("mx-token")
    settings = MatrixSettings(synapse.url, account["user_id"],
                              access_token=account["access_token"])
    adapter = MatrixAdapter(settings, lambda incoming: None, state_dir=str(tmp_path))
    adapter.startService()
    await adapter.when_ready().addTimeout(20, reactor)
    assert adapter.client.device_id == account["device_id"]
    await adapter.stopService()
    assert sorted(path.name for path in tmp_path.iterdir()) == [  # no login file
        "matrix-mx-token_localhost.crypto", "matrix-mx-token_localhost.recovery-key",
        "matrix-mx-token_localhost.sync"]


@pytest_twisted.ensureDeferred
async def test_rate_limited_replies_keep_their_order(synapse, tmp_path, logged):
    account = synapse.register("mx-limited")
    alice = synapse.user(synapse.register("mx-limited-alice"))
    echo = Echo(synapse, tmp_path, account)
    adapter = await echo.start()
    room = await alice.create_room(invite=[account["user_id"]])
    await alice.wait_member(room, account["user_id"])
    synapse.limit_messages(account["user_id"], per_second=1, burst=1)  # limited under load too
    try:
        for n in range(3):  # Synapse holds each 429 back 0.5 s: few lines suffice
            adapter.deliver(Reply(Target("matrix", room), text(f"line {n}")))
        await alice.wait_event(room, lambda e: e["content"].get("body") == "line 2")
        bodies = [e["content"]["body"] for e in await alice.messages(room)
                  if from_bot(account["user_id"])(e)]
        assert bodies == ["line 0", "line 1", "line 2"]
        assert any("rate limited" in line for line in logged)
    finally:
        synapse.limit_messages(account["user_id"], per_second=0, burst=0)
        await echo.stop()


@pytest_twisted.ensureDeferred
async def test_invites_follow_auto_join_and_kicks_are_forgotten(synapse, tmp_path, logged):
    account = synapse.register("mx-invites")
    friend = synapse.register("mx-friend")
    stranger = synapse.user(synapse.register("mx-stranger"))
    echo = Echo(synapse, tmp_path, account, auto_join=(friend["user_id"],))
    adapter = await echo.start()
    refused = await stranger.create_room(invite=[account["user_id"]])
    friendly = synapse.user(friend)
    room = await friendly.create_room(invite=[account["user_id"]])
    await friendly.wait_member(room, account["user_id"])
    await until(lambda: adapter.client.rooms.get(room) is not None, 20)
    members = await stranger.members(refused)
    assert members[account["user_id"]] == "leave"
    assert any("declined an invite" in line and "mx-stranger" in line for line in logged)
    await friendly.send(room, "!ping")
    await friendly.wait_event(room, from_bot(account["user_id"]))
    await friendly.kick(room, account["user_id"], reason="too chatty")
    await until(lambda: room not in adapter.client.rooms, 20)
    assert any(f"kicked from {room} by {friend['user_id']} (too chatty)" in line
               for line in logged)
    adapter.deliver(Reply(Target("matrix", room), text("after the kick")))
    await until(lambda: any("cannot post in" in line for line in logged), 20)
    await echo.stop()


@pytest_twisted.ensureDeferred
async def test_direct_messages_open_one_room_and_reuse_it(synapse, tmp_path):
    account = synapse.register("mx-dm")
    bob_account = synapse.register("mx-dm-bob")
    bob = synapse.user(bob_account)
    echo = Echo(synapse, tmp_path, account)
    adapter = await echo.start()
    adapter.deliver(Reply(Target("matrix", bob.user_id, direct=True), text("first alert")))
    room, invite = await bob.wait_invite(account["user_id"])
    assert invite.get("is_direct") is True
    await bob.join(room)
    await bob.wait_event(room, lambda e: e["content"].get("body") == "first alert")
    await bob.send(room, "task 1")  # a DM needs no prefix
    heard = await bob.wait_event(room, lambda e: e["content"].get("body") == "heard: task 1")
    assert echo.heard[-1].direct and heard["content"]["m.relates_to"]
    adapter.deliver(Reply(Target("matrix", bob.user_id, direct=True), text("second alert")))
    await bob.wait_event(room, lambda e: e["content"].get("body") == "second alert")
    direct = await synapse.user(account).call(
        "GET", f"/user/{account['user_id']}/account_data/m.direct")
    assert direct == {bob.user_id: [room]}
    await echo.stop()


@pytest_twisted.ensureDeferred
async def test_last_words_pass_the_send_gate_that_holds_queued_lines(synapse, tmp_path):
    """A process stepping down (its lead lost: ``may_send`` false) sends nothing it had
    queued, but does tell an asker it did not answer."""
    account = synapse.register("mx-lastwords")
    alice = synapse.user(synapse.register("mx-lastwords-alice"))
    echo = Echo(synapse, tmp_path, account)
    adapter = await echo.start()
    room = await alice.create_room(invite=[account["user_id"]])
    await alice.wait_member(room, account["user_id"])
    try:
        adapter.may_send = lambda: False
        adapter.deliver(Reply(Target("matrix", room), text("a queued line")))
        adapter.say_now(room, "alice: restarting, please ask again")
        await alice.wait_event(room, lambda e: e["content"].get("body") ==
                               "alice: restarting, please ask again")
        bodies = [e["content"].get("body") for e in await alice.messages(room)
                  if from_bot(account["user_id"])(e)]
        assert bodies == ["alice: restarting, please ask again"]
    finally:
        adapter.may_send = lambda: True
        await echo.stop()
