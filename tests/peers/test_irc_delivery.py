"""A reply counts as sent only once the real IRC server has handled it: inspircd by
echo-message, ngircd (which has no echo-message) by a PING after the lines and its PONG.
Answers to commands go out before a backlog of relayed lines."""

from __future__ import annotations

import signal

import pytest
import pytest_twisted
from twisted.internet import reactor, task

from kojibot.adapters.irc.network import IRCAdapter, IRCSettings
from kojibot.chat.message import text
from kojibot.chat.model import Reply, Target
from tests.peers import test_irc_adapter
from tests.peers.test_irc_adapter import (
    Inbox,
    eventually,
    from_bot,
    reply,
    start_bot,
    unique,
    user,
)

cleanup = test_irc_adapter.cleanup  # the fixture


def relayed(bot: IRCAdapter, room: str, line: str, log: list[str]) -> Reply:
    """A line as the persisted outbox hands it: it waits for ``on_sent``."""
    return Reply(Target(bot.network, room), text(line), on_sent=lambda: log.append(line))


@pytest.mark.parametrize("server", ["own_ngircd", "inspircd"])
@pytest_twisted.ensureDeferred
async def test_a_line_is_sent_only_once_the_server_has_handled_it(server, request, cleanup):
    ircd = request.getfixturevalue(server)
    channel = unique("#receipt")
    watcher = await user(cleanup, ircd.port)
    await watcher.join(channel)
    bot, _ = await start_bot(cleanup, ircd.port, channels=(channel,))
    assert ("echo-message" in bot.connection.caps) == (server == "inspircd")
    sent: list[str] = []
    ircd.pause()
    try:
        bot.deliver(relayed(bot, channel, "held by a frozen server", sent))
        await eventually(lambda: bot.outbox.unconfirmed == 1, 5, "the line written")
        await task.deferLater(reactor, 1.0, lambda: None)
        assert sent == [], "sent before the server handled it"
    finally:
        ircd.resume()
    await eventually(lambda: sent, 10, "the receipt")
    assert (await watcher.wait_for(from_bot(bot))).text == "held by a frozen server"
    assert sent == ["held by a frozen server"] and len(bot.outbox) == 0


@pytest_twisted.ensureDeferred
async def test_a_line_the_server_never_handled_goes_out_again_after_a_reconnect(own_ngircd,
                                                                             cleanup):
    """ngircd frozen with the line in its socket, then killed: it never read it. The bot
    reconnects to the restarted server and sends it again; only that receipt counts."""
    channel = unique("#resend")
    settings = IRCSettings(host="127.0.0.1", port=own_ngircd.port, tls=False,
                           nick=unique("kojibot"), channels=(channel,))
    bot = IRCAdapter(settings, Inbox(), network="testnet", retry_policy=lambda n: 1.5)
    bot.startService()
    cleanup.append(bot.stopService)
    await bot.when_ready().addTimeout(15, reactor)
    sent: list[str] = []
    own_ngircd.pause()
    bot.deliver(relayed(bot, channel, "written, never read", sent))
    await eventually(lambda: bot.outbox.unconfirmed == 1, 5, "the line written")
    own_ngircd.process.send_signal(signal.SIGKILL)
    own_ngircd.process.wait(5)
    await eventually(lambda: bot.connection is None, 10, "the bot notices")
    assert sent == [] and len(bot.outbox) == 1
    own_ngircd.start()
    watcher = await user(cleanup, own_ngircd.port)
    await watcher.join(channel)
    assert (await watcher.wait_for(from_bot(bot), timeout=20)).text == "written, never read"
    await eventually(lambda: sent, 10, "the receipt")
    assert sent == ["written, never read"]


@pytest_twisted.ensureDeferred
async def test_an_answer_goes_before_a_backlog_of_relayed_lines(inspircd, cleanup):
    channel = unique("#lanes")
    watcher = await user(cleanup, inspircd.port)
    await watcher.join(channel)
    bot, _ = await start_bot(cleanup, inspircd.fast_port, channels=(channel,),
                             line_rate=inspircd.FAST_RATE, burst=inspircd.FAST_BURST)
    sent: list[str] = []
    for n in range(60):
        bot.deliver(relayed(bot, channel, f"event {n:02d}", sent))
    bot.deliver(reply(bot, channel, "the answer", mention=watcher.nick))
    texts = [(await watcher.wait_for(from_bot(bot), timeout=30)).text for _ in range(61)]
    answer = texts.index(f"{watcher.nick}: the answer")
    # What was left of the burst (20, less the lines of joining) had gone to relayed lines
    # before the answer was queued; it is the next line, not the 61st.
    assert answer <= inspircd.FAST_BURST, texts[:answer + 1]
    assert [x for x in texts if x.startswith("event")] == [f"event {n:02d}" for n in range(60)]
    await eventually(lambda: len(sent) == 60, 10, "every receipt")


@pytest_twisted.ensureDeferred
async def test_the_bots_own_echoes_are_not_heard_as_commands(inspircd, cleanup):
    channel = unique("#echo")
    watcher = await user(cleanup, inspircd.port)
    await watcher.join(channel)
    bot, inbox = await start_bot(cleanup, inspircd.port, channels=(channel,))
    assert "echo-message" in bot.connection.caps
    sent: list[str] = []
    bot.deliver(relayed(bot, channel, f"{bot.nick}: !task 1", sent))
    bot.deliver(Reply(Target(bot.network, watcher.nick, direct=True), text("!help"),
                      on_sent=lambda: sent.append("dm")))
    await eventually(lambda: len(sent) == 2, 10, "both echoed")
    watcher.say(channel, f"{bot.nick}: !task 2")
    heard = await inbox.wait_for(lambda i: True)
    assert [(i.sender, i.text) for i in inbox.heard] == [(watcher.nick, f"{bot.nick}: !task 2")]
    assert heard.sender == watcher.nick


@pytest_twisted.ensureDeferred
async def test_a_stop_waits_for_the_receipts_of_lines_written(own_ngircd, cleanup):
    """Stopped while ngircd slowly reads a backlog: every line it shows has its receipt, so
    a restart repeats none."""
    channel = unique("#stop")
    watcher = await user(cleanup, own_ngircd.port)
    await watcher.join(channel)
    settings = IRCSettings(host="127.0.0.1", port=own_ngircd.port, tls=False,
                           nick=unique("kojibot"), channels=(channel,), line_rate=1000)
    bot = IRCAdapter(settings, Inbox(), network="testnet")
    bot.startService()
    await bot.when_ready().addTimeout(15, reactor)
    sent: list[str] = []
    for n in range(40):
        bot.deliver(relayed(bot, channel, f"backlog {n:02d}", sent))
    await eventually(lambda: len(sent) >= 10 and bot.outbox.unconfirmed, 20, "a receipt")
    await bot.stopService()
    await watcher.wait_line(lambda h: h.command == "QUIT" and h.nick == settings.nick, 20)
    shown = [h.text for h in watcher.messages()
             if h.nick == settings.nick and h.command == "PRIVMSG"]
    assert shown == sent and len(sent) < 40
