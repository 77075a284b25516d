"""End to end with what ships: the ``kojibot`` executable installed from the wheel into a fresh
venv (tests/installed.py), run as its own process against the real peers — the Koji hub,
ngircd, a private RabbitMQ node and Synapse — with a scripted person on the other side."""

from __future__ import annotations

import itertools
import re

import pytest_twisted
from twisted.internet import threads

from kojibot.chat.render import strip_irc_formatting
from tests.busmessages import FEDORA_BUILD, fedora_build, publish
from tests.ircuser import IRCUser
from tests.synapse import from_bot as from_matrix_bot

_names = itertools.count(1)


def hub_section(hub) -> str:
    return f"[koji]\nserver = {hub.url}\nweburl = {hub.weburl}\ntopurl = {hub.topurl}\n"


def irc_section(ngircd, channel: str) -> str:
    return (f"[irc]\nhost = 127.0.0.1\nport = {ngircd.port}\ntls = no\nchannels = {channel}\n"
            "line_rate = 10\nburst = 20\n")


def test_the_embedded_default_answers_on_the_console_and_keeps_state_in_sqlite(
        installed, tmp_path):
    """`kojibot` with no configuration: console chat, SQLite state under the user data dir."""
    run = installed.run([], tmp_path, stdin="help\nhelp task\n")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("Commands: alerts, build, eta, help")
    assert lines[1].startswith("Usage: !task ID — Show a task")
    assert (tmp_path / "data" / "kojibot" / "state.sqlite3").is_file()
    assert "Traceback" not in run.stderr


def test_the_console_answers_from_the_hub(installed, kojihub, tmp_path):
    task_id = kojihub.facts["builds"]["complete"]["task_id"]
    (tmp_path / "bot.ini").write_text(f"[bot]\nstate = {tmp_path}/state.sqlite3\n"
                                      + hub_section(kojihub))
    run = installed.run(["--console", "--config", str(tmp_path / "bot.ini"),
                         "--log-level", "error"], tmp_path,
                        stdin=f"task {task_id}\neta bash\ntask 99999999\n"
                        f"{kojihub.weburl}/taskinfo?taskID={task_id}\nhello\n")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith(f"Task {task_id} build ") and " CLOSED by " in lines[0]
    assert lines[1].startswith("bash: average build ")
    assert lines[2] == "No such task: 99999999"
    assert lines[3] == lines[0]  # a pasted link is answered like the command
    assert lines[4] == "Unknown command !hello — try !help"


async def said(user, nick, pattern, timeout=20):
    heard = await user.wait_line(
        lambda h: h.nick == nick and h.command == "PRIVMSG"
        and re.search(pattern, strip_irc_formatting(h.text)), timeout=timeout)
    return strip_irc_formatting(heard.text)


@pytest_twisted.ensureDeferred
async def test_irc_task_eta_and_watch(installed, kojihub, ngircd, tmp_path):
    n = next(_names)
    channel, nick = f"#shipped-{n}", f"shipped{n}"
    user = await IRCUser.connect(ngircd.port, f"pkgr{n}")
    await user.join(channel)
    bot = installed.start(f"[bot]\nnick = {nick}\nrate = 1000\nstate = {tmp_path}/s.sqlite3\n"
                          + hub_section(kojihub) + irc_section(ngircd, channel), tmp_path)
    try:
        await bot.wait_log(rf"joined {channel}")
        done = kojihub.facts["builds"]["complete"]["task_id"]
        user.say(channel, f"!task {done}")
        line = await said(user, nick, rf"Task {done} ")
        assert line.startswith(f"{user.nick}: Task {done} build ") and " CLOSED by " in line
        assert line.endswith(f"{kojihub.weburl}/taskinfo?taskID={done}")
        user.say(channel, "!eta bash")
        assert (await said(user, nick, r"bash: ")).startswith(f"{user.nick}: bash: average build")
        user.say(channel, f"!watch {done}")
        assert f"Task {done} build " in await said(user, nick, r"already finished")
    finally:
        await user.quit()
        assert await bot.stop() == 0
    assert "Traceback" not in bot.log()


@pytest_twisted.ensureDeferred
async def test_relay_from_the_bus_into_a_channel(installed, kojihub, ngircd, rabbitmq, tmp_path):
    """No amqp-specs or other OS file: the relay runs on what pip installed."""
    n = next(_names)
    channel, nick, package = f"#relay-shipped-{n}", f"relayer{n}", f"shippedpkg{n}"
    user = await IRCUser.connect(ngircd.port, f"op{n}")
    await user.join(channel)  # first in: channel operator, allowed to subscribe
    bot = installed.start(
        f"[bot]\nnick = {nick}\nrate = 1000\nstate = {tmp_path}/s.sqlite3\n"
        + hub_section(kojihub) + irc_section(ngircd, channel)
        + f"[amqp]\nurl = {rabbitmq.url}\nqueue = kojibot-shipped-{n}\n", tmp_path)
    try:
        await bot.wait_log(r"consuming kojibot-shipped-")
        await bot.wait_log(rf"joined {channel}")
        user.say(channel, f"!subscribe package {package} all")
        assert "Subscribed" in await said(user, nick, rf"{package}")
        await threads.deferToThread(publish, rabbitmq.url, [
            (FEDORA_BUILD, fedora_build(880000 + n, package, 1, owner="alice"))])
        line = await said(user, nick, rf"^{package}-1\.0-")
        assert line.startswith(f"{package}-1.0-{880000 + n}.fc41 COMPLETE")
    finally:
        await user.quit()
        assert await bot.stop() == 0
    assert "Traceback" not in bot.log()


@pytest_twisted.ensureDeferred
async def test_matrix_room_answer(installed, kojihub, synapse, tmp_path):
    n = next(_names)
    account = synapse.register(f"shipped-bot-{n}")
    alice = synapse.user(synapse.register(f"shipped-packager-{n}"))
    bot = installed.start(
        f"[bot]\nrate = 1000\nstate = {tmp_path}/s.sqlite3\n" + hub_section(kojihub)
        + f"[matrix]\nhomeserver = {synapse.url}\nuser_id = {account['user_id']}\n"
        f"password = {account['password']}\n", tmp_path)
    try:
        await bot.wait_log(r"synced with ")
        room = await alice.create_room(invite=[account["user_id"]], name=f"shipped {n}")
        await alice.wait_member(room, account["user_id"])
        done = kojihub.facts["builds"]["complete"]["task_id"]
        asked = await alice.send(room, f"!task {done}")
        reply = await alice.wait_event(room, lambda e: from_matrix_bot(account["user_id"])(e)
                                       and e["content"].get("m.relates_to", {}).get(
                                           "m.in_reply_to", {}).get("event_id") == asked)
        assert f"Task {done} build " in reply["content"]["body"]
    finally:
        assert await bot.stop() == 0
    assert "Traceback" not in bot.log()
