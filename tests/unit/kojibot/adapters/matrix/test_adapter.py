"""The Matrix adapter without a server: rendering, reply content, membership, the saved session,
its settings and send queue. Against a real Synapse: tests/peers/test_matrix_adapter.py."""

import os
import stat

import pytest
import pytest_twisted
from twisted.internet import defer, task

from kojibot import config
from kojibot.adapters.matrix import rooms
from kojibot.adapters.matrix.homeserver import MatrixAdapter
from kojibot.adapters.matrix.saved import SavedSession
from kojibot.adapters.matrix.sendqueue import SendQueues
from kojibot.chat.message import link, state, text
from kojibot.chat.model import Incoming, Reply, Target

ME = "@kojibot:example.org"


def test_reply_content_is_a_notice_replying_to_the_command():
    asked = Incoming("matrix", "@alice:example.org", "!task 7", room="!r:example.org",
                     reply_to="$cmd")
    content = rooms.reply_content(Reply.to(asked, text("Task 7 ", state("CLOSED"))))
    assert content == {
        "msgtype": "m.notice", "body": "Task 7 CLOSED", "format": "org.matrix.custom.html",
        "formatted_body": '<a href="https://matrix.to/#/@alice:example.org">alice</a>: '
                          'Task 7 <font color="#009300" data-mx-color="#009300">CLOSED</font>',
        "m.relates_to": {"m.in_reply_to": {"event_id": "$cmd"}},
        "m.mentions": {"user_ids": ["@alice:example.org"]}}
    relayed = rooms.reply_content(Reply(Target("matrix", "!r:example.org"), text("x")))
    assert "m.relates_to" not in relayed and relayed["m.mentions"] == {}


def test_a_reply_in_a_thread_stays_there():
    asked = Incoming("matrix", "@alice:example.org", "!task 7", room="!r:x", reply_to="$cmd")
    content = rooms.reply_content(Reply.to(asked, text("x")), thread="$root")
    assert content["m.relates_to"] == {"rel_type": "m.thread", "event_id": "$root",
                                       "is_falling_back": False,
                                       "m.in_reply_to": {"event_id": "$cmd"}}
    assert rooms.thread_root({"m.relates_to": {"rel_type": "m.thread", "event_id": "$t"}}) \
        == "$t"
    assert rooms.thread_root({"m.relates_to": {"m.in_reply_to": {"event_id": "$t"}}}) is None


def test_koji_text_mentions_no_one():
    relayed = rooms.reply_content(Reply(Target("matrix", "!r:x"), text(
        "built by @room for @bob:example.org, see ", link("https://k.test/u@x"))))
    assert relayed["m.mentions"] == {}
    for body in (relayed["body"], relayed["formatted_body"]):
        assert "@room" not in body and "@bob:" not in body and "room" in body
    assert 'href="https://k.test/u@x"' in relayed["formatted_body"]


def test_command_text_reads_people_not_bots_or_edits():
    assert rooms.command_text({"msgtype": "m.text", "body": " !task 1 "}) == "!task 1"
    assert rooms.command_text({"msgtype": "m.notice", "body": "!task 1"}) is None
    assert rooms.command_text({"msgtype": "m.text", "body": 5}) is None
    assert rooms.command_text({"msgtype": "m.text", "body": "* !task 2", "m.relates_to": {
        "rel_type": "m.replace", "event_id": "$a"}}) is None
    assert rooms.command_text({"msgtype": "m.text", "body": "> <@a:x> hi\n> there\n\n!task 3",
                               "m.relates_to": {"m.in_reply_to": {"event_id": "$a"}}}) == \
        "!task 3"
    assert rooms.command_text({"msgtype": "m.text", "body": "see\nhttps://k/taskinfo?taskID=4"}) \
        == "see https://k/taskinfo?taskID=4"


def member(user, membership, previous=None, sender=None):
    event = {"type": "m.room.member", "state_key": user, "sender": sender or user,
             "content": {"membership": membership}}
    if previous:
        event["unsigned"] = {"prev_content": {"membership": previous}}
    return event


def said(sender, body, event_id="$e"):
    return {"type": "m.room.message", "sender": sender, "event_id": event_id,
            "content": {"msgtype": "m.text", "body": body}}


def test_history_before_our_join_is_not_answered():
    old, new = said("@a:x", "!task 1", "$old"), said("@a:x", "!task 2", "$new")
    events = [old, member(ME, "join", previous="invite"), new,
              member(ME, "join", previous="join")]  # a display-name change
    assert rooms.fresh_events(events, ME) == [new, events[3]]
    assert rooms.fresh_events([old, new], ME) == [old, new]
    heard = rooms.incoming(new, network="matrix", room_id="!r:x", me=ME, bot_name="kojibot",
                           direct=False, level=50)
    assert heard == Incoming("matrix", "@a:x", "!task 2", room="!r:x", account="@a:x",
                             operator=True, bot_name="kojibot", reply_to="$new")
    assert rooms.incoming(said(ME, "!task 1"), network="matrix", room_id="!r:x", me=ME,
                          bot_name="kojibot", direct=False, level=100) is None
    dm = rooms.incoming(new, network="matrix", room_id="!r:x", me=ME, bot_name="kojibot",
                        direct=True, level=0)
    assert dm.direct and not dm.operator


def test_auto_join_policy():
    assert rooms.may_invite([], "@alice:example.org", "example.org")
    assert not rooms.may_invite([], "@mallory:evil.test", "example.org")
    assert rooms.may_invite(["anyone"], "@mallory:evil.test", "example.org")
    assert rooms.may_invite(["@Bob:other.test", "fedora.im"], "@bob:other.test", "x")
    assert rooms.may_invite([":fedora.im"], "@carol:fedora.im", "x")
    assert not rooms.may_invite(["@bob:other.test"], "@alice:example.org", "example.org")


def test_direct_map_bookkeeping():
    mapping = rooms.direct_map({"@a:x": ["!1:x", 7], "@b:x": "bad", 3: ["!9:x"]})
    assert mapping == {"@a:x": ["!1:x"]}
    mapping = rooms.with_direct(rooms.with_direct(mapping, "@a:x", "!2:x"), "@a:x", "!1:x")
    assert mapping == {"@a:x": ["!2:x", "!1:x"]}
    assert rooms.direct_user(mapping, "!2:x") == "@a:x"
    assert rooms.without_room(rooms.without_room(mapping, "!1:x"), "!2:x") == {}


def test_saved_session_is_private_and_per_account(tmp_path):
    saved = SavedSession(tmp_path / "state", ME, "https://matrix.example.org")
    assert saved.credentials() is None and saved.next_batch is None
    saved.save_credentials("DEV", "syt_token")
    saved.save_next_batch("s1_2")
    for path in (saved.login_path, saved.sync_path):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = SavedSession(tmp_path / "state", ME, "https://matrix.example.org")
    assert again.credentials() == ("DEV", "syt_token") and again.next_batch == "s1_2"
    assert SavedSession(tmp_path / "state", ME, "https://other.test").credentials() is None
    saved.login_path.write_text("{not json")
    assert saved.credentials() is None
    saved.forget_credentials()
    assert not saved.login_path.exists()


def test_config_matrix_section():
    base = "[matrix]\nhomeserver = https://matrix.example.org/\nuser_id = @kojibot:example.org\n"
    settings = config.parse(base + "password = hunter2\nrooms = #koji:example.org, !a:b\n")
    assert settings.matrix.homeserver == "https://matrix.example.org"
    assert settings.matrix.rooms == ("#koji:example.org", "!a:b")
    assert settings.matrix.device_name == "kojibot" and settings.matrix.tls_verify
    with pytest.raises(config.ConfigError) as info:
        config.parse("[matrix]\nhomeserver = matrix.example.org\nuser_id = kojibot\n"
                     "password = hunter2\naccess_token = syt_secret\nrooms = koji\n"
                     "auto_join = @nobody\n")
    assert info.value.problems == [
        "matrix.homeserver: bad value 'matrix.example.org': expected an http:// or https:// URL",
        "matrix.user_id: bad value 'kojibot': expected a Matrix user id like "
        "@kojibot:example.org",
        "matrix.password: give matrix.password or matrix.access_token (one of them)",
        "matrix.rooms: 'koji' is not a room id (!id:server) or alias (#name:server)",
        "matrix.auto_join: '@nobody' is not anyone, a user id (@name:server) or a server name"]
    assert "hunter2" not in str(info.value) and "syt_secret" not in str(info.value)
    with pytest.raises(config.ConfigError, match="one of them"):
        config.parse(base)


def test_adapter_from_the_config_section(tmp_path, logged):
    settings = config.parse("[matrix]\nhomeserver = https://matrix.example.org\n"
                            "user_id = @kojibot:example.org\naccess_token = syt_x\n"
                            "tls_verify = no\nauto_join = anyone\n")
    adapter = MatrixAdapter(settings.matrix, lambda incoming: None,
                            state_dir=str(tmp_path))
    assert adapter.client.ssl is False and adapter.settings.auto_join == ("anyone",)
    assert "syt_x" not in repr(adapter.settings)
    assert "TLS certificate verification is off for https://matrix.example.org" in logged


@pytest_twisted.ensureDeferred
async def test_send_queue_waits_out_rate_limits_in_order():
    clock, sent, tries = task.Clock(), [], []
    answers = {"b": [0.5, 0.25, None], "c": [RuntimeError("down"), None]}

    async def send(item):
        tries.append(item)
        answer = answers.get(item, [None]).pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    queues = SendQueues(send, finished=sent.append, when_ready=lambda: defer.succeed(None),
                        is_ready=lambda: True, retry_policy=lambda n: 2.0, clock=clock)
    queues.start()
    for item in "abcd":
        queues.put("!room", item)
    queues.put("!other", "x")
    assert sent == ["a", "x"]
    clock.advance(0.5)
    clock.advance(0.25)
    assert sent == ["a", "x", "b"] and tries.count("c") == 1
    clock.advance(2.0)
    assert sent == ["a", "x", "b", "c", "d"] and len(queues) == 0


def test_a_bad_encryption_policy_is_one_line():
    with pytest.raises(config.ConfigError) as info:
        config.parse("[matrix]\nhomeserver = http://127.0.0.1:1\nuser_id = @x:localhost\n"
                     "password = p\nencryption = maybe\n")
    assert info.value.problems == [
        "matrix.encryption: bad value 'maybe': expected one of tofu, verified, refuse"]
