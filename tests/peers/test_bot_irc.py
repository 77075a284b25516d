"""The whole bot on real IRC servers, asking the real hub: a scripted user talks to it."""

import itertools
import re

import pytest
import pytest_twisted
from twisted.internet import reactor

from kojibot import config
from kojibot.adapters.irc.network import adapter_from_config
from kojibot.bot import Bot
from kojibot.chat.render import strip_irc_formatting
from tests.ircuser import IRCUser

_names = itertools.count(1)


@pytest_twisted.async_yield_fixture
async def irc_bot(kojihub, ngircd, tmp_path):
    """The bot on ngircd in channel #koji-N (its adapter), a scripted user in it, the channel."""
    n = next(_names)
    channel, nick = f"#koji-{n}", f"kojibot{n}"
    settings = config.parse(
        f"[bot]\nnick = {nick}\nrate = 1000\nstate = {tmp_path}/state.sqlite3\n"
        f"[koji]\nserver = {kojihub.url}\nweburl = {kojihub.weburl}\n"
        f"[irc]\nhost = 127.0.0.1\nport = {ngircd.port}\ntls = no\nchannels = {channel}\n"
        "line_rate = 5\n")
    bot = Bot(settings)
    adapter = adapter_from_config(settings.irc, bot.receive)
    bot.add_adapter(adapter)
    user = await IRCUser.connect(ngircd.port, f"packager{n}")
    await user.join(channel)
    bot.startService()
    await adapter.when_ready().addTimeout(20, reactor)
    yield adapter, user, channel
    await user.quit()
    await bot.stopService()


def from_bot(adapter):
    return lambda heard: heard.nick == adapter.nick and heard.command == "PRIVMSG"


@pytest_twisted.ensureDeferred
async def test_task_in_channel_carries_hub_values(irc_bot, kojihub, hub_proxy):
    adapter, user, channel = irc_bot
    task_id = kojihub.facts["builds"]["complete"]["task_id"]
    owner = hub_proxy.getUser(hub_proxy.getTaskInfo(task_id)["owner"])["name"]
    user.say(channel, f"!task {task_id}")
    heard = await user.wait_line(from_bot(adapter), timeout=20)
    line = strip_irc_formatting(heard.text)
    assert heard.target == channel
    assert line.startswith(f"{user.nick}: Task {task_id} build ")
    assert f"CLOSED by {owner}" in line
    assert line.endswith(f"{kojihub.weburl}/taskinfo?taskID={task_id}")
    assert "\x0303CLOSED\x03" in heard.text  # coloured state


@pytest_twisted.ensureDeferred
async def test_build_by_dm_and_by_nick(irc_bot, kojihub, hub_proxy):
    adapter, user, channel = irc_bot
    fact = kojihub.facts["builds"]["complete"]
    raw = hub_proxy.getBuild(fact["id"])
    user.say(adapter.nick, f"build {fact['nvr']}")
    heard = await user.wait_line(from_bot(adapter), timeout=20)
    assert heard.target == user.nick
    assert strip_irc_formatting(heard.text).startswith(
        f"Build {raw['nvr']} COMPLETE by {raw['owner_name']}")
    user.say(channel, f"{adapter.nick}: user alice")
    heard = await user.wait_line(lambda h: from_bot(adapter)(h) and "User alice" in h.text,
                                 timeout=20)
    assert heard.target == channel


@pytest_twisted.ensureDeferred
async def test_koji_text_with_crlf_is_one_clean_line(irc_bot, kojihub):
    adapter, user, channel = irc_bot
    admin = kojihub.session("kojiadmin")
    task_id = admin.makeTask("newRepo", ["f41-build\r\nPRIVMSG #koji :pwned\r"])
    user.say(channel, f"!task {task_id}")
    heard = await user.wait_line(from_bot(adapter), timeout=20)
    assert "f41-build PRIVMSG #koji :pwned" in heard.text
    assert not re.search(r"[\r\n\x00]", heard.text)
    with pytest.raises(AssertionError, match="not"):  # no second line from the bot
        await user.wait_line(from_bot(adapter), timeout=2)


@pytest_twisted.ensureDeferred
async def test_unknown_command_and_bad_arguments(irc_bot):
    adapter, user, channel = irc_bot
    user.say(channel, "!frob")
    heard = await user.wait_line(from_bot(adapter), timeout=20)
    assert heard.text == f"{user.nick}: Unknown command !frob — try !help"
    user.say(channel, "!task twelve")
    heard = await user.wait_line(lambda h: from_bot(adapter)(h) and "Usage" in h.text,
                                 timeout=20)
    assert heard.text == (f"{user.nick}: ID must be a number, not 'twelve'. "
                          "Usage: !task ID")


@pytest_twisted.ensureDeferred
async def test_answers_again_after_the_server_restarts(irc_bot, kojihub, ngircd):
    adapter, user, channel = irc_bot
    ngircd.stop()
    ngircd.start()
    started = reactor.seconds()
    await adapter.when_ready().addTimeout(30, reactor)
    assert reactor.seconds() - started < 30
    again = await IRCUser.connect(ngircd.port, user.nick + "x")
    try:
        await again.join(channel)
        names = " ".join(h.text for h in again.heard if h.command == "353")
        if adapter.nick not in names.replace("@", "").split():
            await again.wait_line(lambda h: h.command == "JOIN" and h.nick == adapter.nick,
                                  timeout=30)
        again.say(channel, f"!build {kojihub.facts['builds']['failed']['nvr']}")
        heard = await again.wait_line(from_bot(adapter), timeout=20)
        assert " FAILED " in strip_irc_formatting(heard.text)
    finally:
        await again.quit()
