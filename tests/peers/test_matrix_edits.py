"""One line per build on Matrix: a subscribed build's start posts a line and its end edits
that line (``m.replace``), on the real Synapse with the real hub for failure reasons. The
rooms are read as a client shows them: each of the bot's messages with its latest edit
applied (``shown``); the encrypted room is read by Element's own crypto stack, whose SDK
applies the edit itself. IRC keeps a line per event."""

import itertools
import re
import time
import urllib.parse
from types import SimpleNamespace

import pytest
import pytest_twisted

from kojibot.adapters.matrix.rooms import WORD_JOINER
from kojibot.bus.wire import Delivery
from kojibot.chat.render import strip_irc_formatting
from tests.busmessages import FEDORA_BUILD, fedora_build, until
from tests.elementperson import ElementPerson, ElementUnavailable
from tests.ircuser import IRCUser
from tests.peers import test_bot_matrix
from tests.peers.test_bot_matrix import answer_to, bot_settings, start_bot
from tests.statedb import drained

_names = itertools.count(1)
matrix = test_bot_matrix.matrix  # the fixture: a bot, a packager and their room
BUILDING, COMPLETE, FAILED = 0, 1, 3


def build_event(build_id, package, new, old=0, task_id=None, owner="alice"):
    """A Fedora build.state.change delivery, as the consumer hands it to the relay."""
    return Delivery(FEDORA_BUILD, {}, fedora_build(build_id, package, new, owner=owner,
                                                   old=old, task_id=task_id),
                    build_id, False, message_id=f"m-{build_id}-{new}")


def nvr_of(package, build_id):
    return f"{package}-1.0-{build_id}.fc41"


def shown(events, sender, about):
    """*sender*'s lines about builds of package *about*, as a client shows them (the
    latest edit by the same sender applied, edits not lines of their own): a list of
    (original event, shown content, edit event or None)."""
    edits, originals = {}, []
    for event in events:
        if event["sender"] != sender or event["type"] != "m.room.message":
            continue
        relation = event["content"].get("m.relates_to") or {}
        if relation.get("rel_type") == "m.replace":
            edits[relation["event_id"]] = event
        elif event["content"].get("body", "").startswith(f"{about}-"):
            originals.append(event)
    return [(event, edits[event["event_id"]]["content"]["m.new_content"]
             if event["event_id"] in edits else event["content"], edits.get(event["event_id"]))
            for event in originals]


async def command(env, room, line, expected):
    asked = await env.alice.send(room, line)
    answer = await env.alice.wait_event(room, answer_to(env.me, asked))
    assert answer["content"]["body"].replace(WORD_JOINER, "") == expected


async def relayed(env, *deliveries, room=None):
    """Hand the deliveries to the relay; the room's lines once the outbox has sent them."""
    assert await env.bot.relay.handle(list(deliveries)) == ["ack"] * len(deliveries)
    await drained(env.bot.store, 20)
    return await env.alice.messages(room or env.room, limit=200)


@pytest_twisted.ensureDeferred
async def test_a_builds_end_edits_the_line_of_its_start(matrix):
    package, build_id = f"edpkg{matrix.n}", 961_000 + matrix.n
    nvr = nvr_of(package, build_id)
    await command(matrix, matrix.room, f"!subscribe package {package} started complete failed",
                  f"Subscribed: package {package} (complete failed started) in {matrix.room}")
    (start,) = shown(await relayed(matrix, build_event(build_id, package, BUILDING)), matrix.me,
                     package)
    assert start[1]["body"].startswith(f"{nvr} BUILDING by alice") and start[2] is None

    lines = shown(await relayed(matrix, build_event(build_id, package, COMPLETE)), matrix.me,
                  package)
    assert len(lines) == 1, lines
    original, content, edit = lines[0]
    assert original["event_id"] == start[0]["event_id"]
    assert content["body"].startswith(f"{nvr} COMPLETE (was BUILDING) by alice, took 25m 10s")
    assert content["msgtype"] == "m.notice" and content["format"] == "org.matrix.custom.html"
    assert '<font color="#009300" data-mx-color="#009300">COMPLETE</font>' in \
        content["formatted_body"]
    assert edit["content"]["m.relates_to"] == {"rel_type": "m.replace",
                                               "event_id": original["event_id"]}
    assert edit["content"]["body"] == f"* {content['body']}"
    assert edit["content"]["formatted_body"] == f"* {content['formatted_body']}"


@pytest_twisted.ensureDeferred
async def test_why_puts_the_failure_reason_in_the_edit(matrix, kojihub):
    """The reason comes from the hub: the seeded failed build's task fault (no logs)."""
    package, build_id = f"edwhy{matrix.n}", 962_000 + matrix.n
    task_id = kojihub.facts["builds"]["failed"]["task_id"]
    await command(matrix, matrix.room, f"!subscribe package {package} started failed why",
                  f"Subscribed: package {package} (failed started why) in {matrix.room}")
    await relayed(matrix, build_event(build_id, package, BUILDING, task_id=task_id))
    lines = shown(await relayed(matrix, build_event(build_id, package, FAILED,
                                                    task_id=task_id)), matrix.me, package)
    assert len(lines) == 1 and lines[0][2] is not None, lines
    body = lines[0][1]["body"]
    assert body.startswith(f"{nvr_of(package, build_id)} FAILED (was BUILDING) by alice")
    assert re.search(r" — fault: error building package \(arch \w+\), mock exited with "
                     r"status 1; see build\.log for more information$", body), body


@pytest_twisted.ensureDeferred
async def test_a_burst_of_ends_edits_the_posted_starts_and_digests_only_the_rest(matrix):
    """Eight builds end at once in a room paced at five lines per 10 s window; three had
    their start posted. Their ends edit those lines (an edit adds no line), the other
    five make one digest line: the room gains a single new line."""
    about = f"edburst{matrix.n}"
    await command(matrix, matrix.room, f"!subscribe package {about}-* started complete",
                  f"Subscribed: package {about}-* (complete started) in {matrix.room}")
    ids = [968_000 + 10 * matrix.n + k for k in range(8)]
    await relayed(matrix, *(build_event(ids[k], f"{about}-p{k}", BUILDING) for k in range(3)))
    events = await relayed(matrix, *(build_event(build_id, f"{about}-p{k}", COMPLETE)
                                     for k, build_id in enumerate(ids)))
    lines = shown(events, matrix.me, about)
    assert [(content["body"].split()[:2], edit is not None) for _, content, edit in lines] == [
        ([nvr_of(f"{about}-p{k}", ids[k]), "COMPLETE"], True) for k in range(3)]
    digests = [event["content"]["body"] for event in events
               if event["sender"] == matrix.me and "builds completed" in
               event["content"].get("body", "")]
    assert len(digests) == 1 and digests[0].startswith(
        f"5 builds completed: {nvr_of(f'{about}-p3', ids[3])}"), digests


@pytest_twisted.ensureDeferred
async def test_a_restart_between_start_and_end_still_edits(matrix):
    package, build_id = f"edrst{matrix.n}", 963_000 + matrix.n
    await command(matrix, matrix.room, f"!subscribe package {package} all",
                  f"Subscribed: package {package} (canceled complete deleted failed started "
                  f"tagged untagged) in {matrix.room}")
    (start,) = shown(await relayed(matrix, build_event(build_id, package, BUILDING)), matrix.me,
                     package)
    await matrix.bot.stopService()
    matrix.bot = await start_bot(matrix.settings)
    lines = shown(await relayed(matrix, build_event(build_id, package, COMPLETE)), matrix.me,
                  package)
    assert [(event["event_id"], " COMPLETE " in content["body"], edit is not None)
            for event, content, edit in lines] == [(start[0]["event_id"], True, True)]


@pytest_twisted.ensureDeferred
async def test_lines_keeps_a_line_per_event_and_a_missing_start_is_a_new_line(matrix):
    package, build_id = f"edlines{matrix.n}", 964_000 + matrix.n
    await command(matrix, matrix.room, f"!subscribe package {package} started complete lines",
                  f"Subscribed: package {package} (complete lines started) in {matrix.room}")
    await relayed(matrix, build_event(build_id, package, BUILDING))
    lines = shown(await relayed(matrix, build_event(build_id, package, COMPLETE)), matrix.me,
                  package)
    assert [(content["body"].split()[1], edit) for _, content, edit in lines] == [
        ("BUILDING", None), ("COMPLETE", None)]

    other = f"ednostart{matrix.n}"  # subscribed to ends only: no start line to edit
    await command(matrix, matrix.room, f"!subscribe package {other}",
                  f"Subscribed: package {other} (complete failed) in {matrix.room}")
    await relayed(matrix, build_event(build_id + 1, other, BUILDING))
    lines = shown(await relayed(matrix, build_event(build_id + 1, other, FAILED)), matrix.me,
                  other)
    assert [(content["body"].split()[1], edit) for _, content, edit in lines] == [
        ("FAILED", None)]


@pytest_twisted.ensureDeferred
async def test_a_dm_alert_is_edited_when_the_build_ends(matrix):
    alice, package, build_id = matrix.alice, f"eddm{matrix.n}", 965_000 + matrix.n
    await command(matrix, matrix.room, "!iam alice",
                  f"Linked {alice.user_id} to Koji user alice. !alerts on sends a DM when "
                  "their builds complete or fail.")
    await command(matrix, matrix.room, "!alerts on started complete",
                  "Alerts on: a DM for builds of alice (complete started).")
    assert await matrix.bot.relay.handle([build_event(build_id, package, BUILDING)]) == ["ack"]
    dm, _ = await alice.wait_invite(matrix.me)
    await alice.join(dm)
    lines = shown(await relayed(matrix, build_event(build_id, package, COMPLETE), room=dm),
                  matrix.me, package)
    assert [(content["body"].split()[1], edit is not None) for _, content, edit in lines] == [
        ("COMPLETE", True)]


@pytest_twisted.ensureDeferred
async def test_irc_keeps_two_lines_while_matrix_edits_one(kojihub, synapse, ngircd, tmp_path):
    n = next(_names)
    account = synapse.register(f"kojibot-edits-both-{n}")
    channel, nick = f"#edits-{n}", f"kojiedit{n}"
    settings = bot_settings(kojihub, synapse, tmp_path, account, extra=(
        f"[irc]\nhost = 127.0.0.1\nport = {ngircd.port}\ntls = no\nnick = {nick}\n"
        f"channels = {channel}\nline_rate = 5\n"))
    irc_user = await IRCUser.connect(ngircd.port, f"ircedits{n}")
    await irc_user.join(channel)  # first in: channel operator
    bot = await start_bot(settings)
    env = SimpleNamespace(bot=bot, alice=synapse.user(synapse.register(f"edits-both-{n}")),
                          me=account["user_id"])
    try:
        env.room = await env.alice.create_room(invite=[env.me])
        await env.alice.wait_member(env.room, env.me)
        package, build_id = f"edboth{n}", 966_000 + n
        await command(env, env.room, f"!subscribe package {package} started complete",
                      f"Subscribed: package {package} (complete started) in {env.room}")
        irc_user.say(channel, f"!subscribe package {package} started complete")
        await irc_user.wait_line(lambda h: h.nick == nick and "Subscribed" in h.text,
                                 timeout=20)
        await relayed(env, build_event(build_id, package, BUILDING))
        lines = shown(await relayed(env, build_event(build_id, package, COMPLETE)), env.me,
                      package)
        assert [(content["body"].split()[1], edit is not None)
                for _, content, edit in lines] == [("COMPLETE", True)]

        def said():
            return [strip_irc_formatting(h.text).split()[:2] for h in irc_user.messages()
                    if h.nick == nick and package in h.text and "Subscribed" not in h.text]

        await until(lambda: len(said()) >= 2, 10)
        assert said() == [[nvr_of(package, build_id), "BUILDING"],
                        [nvr_of(package, build_id), "COMPLETE"]]
    finally:
        await irc_user.quit()
        await bot.stopService()


@pytest_twisted.ensureDeferred
async def test_element_shows_one_line_per_build_in_an_encrypted_room(
        kojihub, synapse, tmp_path):
    """Element's SDK decrypts the edit and applies it to the start line; the edit's
    relation is in the clear for the server, its new text is not."""
    n = next(_names)
    account = synapse.register(f"kojibot-edits-el-{n}")
    person = synapse.register(f"edits-el-{n}")
    bot = await start_bot(bot_settings(kojihub, synapse, tmp_path / "bot", account))
    alice = None
    try:
        try:
            alice = await ElementPerson.login(synapse.url, person, tmp_path / "element",
                                              "laptop")
        except ElementUnavailable as exc:
            pytest.fail(f"Element's crypto stack unavailable: {exc}", pytrace=False)
        await alice.bootstrap()
        await alice.exclude_insecure_devices()
        me = account["user_id"]
        room = await alice.create_room(invite=(me,), name="packagers")
        await alice.wait_member(room, me)
        package, build_id = f"edel{n}", 967_000 + n
        answer = await alice.ask(room, f"!subscribe package {package} started complete", me)
        assert answer["encrypted"] and answer["body"] == \
            f"Subscribed: package {package} (complete started) in {room}"
        began = time.monotonic()
        assert await bot.relay.handle([build_event(build_id, package, BUILDING)]) == ["ack"]
        nvr = nvr_of(package, build_id)
        start = await alice.displayed(room, me, contains=f"{nvr} BUILDING")
        posted = time.monotonic() - began
        began = time.monotonic()
        assert await bot.relay.handle([build_event(build_id, package, COMPLETE)]) == ["ack"]
        seen = await alice.displayed(room, me, contains=f"{nvr} COMPLETE", edited=True,
                                     timeout=30)
        print(f"\nElement shows: the start line {posted * 1000:.0f} ms after the event, the "
              f"edit {(time.monotonic() - began) * 1000:.0f} ms after the end event")
        about = [message for message in seen["messages"]
                 if message["body"].startswith(f"{package}-")]
        assert len(about) == 1 and about[0]["event_id"] == start["found"], seen["messages"]
        assert about[0]["encrypted"] and about[0]["content"]["msgtype"] == "m.notice"
        assert about[0]["body"].startswith(f"{nvr} COMPLETE (was BUILDING) by alice")
        raw = synapse.admin_call("GET", f"/_synapse/admin/v1/rooms/"
                                 f"{urllib.parse.quote(room)}/messages?dir=b&limit=50")["chunk"]
        edit = next(event for event in raw if event["event_id"] == about[0]["edited_by"])
        assert edit["type"] == "m.room.encrypted" and "ciphertext" in edit["content"]
        assert edit["content"]["m.relates_to"] == {"rel_type": "m.replace",
                                                   "event_id": start["found"]}
        assert package not in str(edit["content"])
    finally:
        if alice is not None:
            await alice.stop()
        await bot.stopService()
