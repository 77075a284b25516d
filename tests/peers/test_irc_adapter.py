"""The IRC adapter against real ngircd and inspircd (+ atheme) servers on loopback.

A stub ``receive`` callback stands in for the bot core (the core has its own tests): it
records each ``Incoming``, and the tests call ``deliver`` with the replies the core would
send. Scripted users (tests/ircuser.py) talk to the bot through the real server.
"""

from __future__ import annotations

import itertools
import time

import pytest
import pytest_twisted
from twisted.internet import reactor, task
from twisted.logger import formatEvent, globalLogPublisher

from kojibot.adapters.irc.lines import LINE_LIMIT
from kojibot.adapters.irc.network import IRCAdapter, IRCSettings
from kojibot.chat.message import bold, state, text
from kojibot.chat.model import Incoming, Reply, Target
from kojibot.chat.render import strip_irc_formatting
from tests.ircuser import IRCUser

_names = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_names)}"


class Inbox:
    """The stub core: remembers every Incoming and lets a test wait for one."""

    def __init__(self) -> None:
        self.heard: list[Incoming] = []

    def __call__(self, incoming: Incoming) -> None:
        self.heard.append(incoming)

    async def wait_for(self, predicate, timeout: float = 10) -> Incoming:
        return await eventually(lambda: next((i for i in self.heard if predicate(i)), None),
                                timeout, "an Incoming like that")


async def eventually(probe, timeout: float = 10, what: str = "condition"):
    """Poll *probe* (without blocking the reactor) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        await task.deferLater(reactor, 0.02, lambda: None)


@pytest.fixture
def log_lines():
    """Formatted kojibot.irc log events of this test."""
    lines: list[str] = []

    def observe(event) -> None:
        if event.get("log_namespace") == "kojibot.irc":
            lines.append(f"{event['log_level'].name}: {formatEvent(event)}")

    globalLogPublisher.addObserver(observe)
    yield lines
    globalLogPublisher.removeObserver(observe)


@pytest_twisted.async_yield_fixture
async def cleanup():
    """Append callables returning awaitables; they run (in reverse) after the test."""
    finishers: list = []
    yield finishers
    for finish in reversed(finishers):
        await finish()


async def start_bot(cleanup, port: int, wait: bool = True, **options):
    inbox = Inbox()
    settings = IRCSettings(**{"host": "127.0.0.1", "port": port, "tls": False,
                              "nick": unique("kojibot"), **options})
    bot = IRCAdapter(settings, inbox, network="testnet")
    bot.startService()
    cleanup.append(bot.stopService)
    if wait:
        await bot.when_ready().addTimeout(15, reactor)
    return bot, inbox


async def user(cleanup, port: int, nick: str | None = None, **options) -> IRCUser:
    scripted = await IRCUser.connect(port, nick or unique("user"), **options)
    cleanup.append(scripted.quit)
    return scripted


def reply(bot: IRCAdapter, room: str, *parts, mention: str | None = None) -> Reply:
    return Reply(Target(bot.network, room), text(*parts), mention=mention)


def dm(bot: IRCAdapter, nick: str, *parts) -> Reply:
    return Reply(Target(bot.network, nick, direct=True), text(*parts))


def from_bot(bot: IRCAdapter):
    return lambda heard: heard.nick == bot.nick and heard.command == "PRIVMSG"


# -- hearing and answering ----------------------------------------------------------------
@pytest.mark.parametrize("server", ["ngircd", "inspircd"])
@pytest_twisted.ensureDeferred
async def test_hears_channel_and_private_messages_and_answers(server, request, cleanup):
    port = request.getfixturevalue(server).port
    channel = unique("#koji")
    alice = await user(cleanup, port)
    await alice.join(channel)  # first in: alice gets +o
    bot, inbox = await start_bot(cleanup, port, channels=(channel,))
    bob = await user(cleanup, port)
    await bob.join(channel)

    alice.say(channel, f"{bot.nick}: task 1")
    asked = await inbox.wait_for(lambda i: i.sender == alice.nick)
    assert asked == Incoming(network="testnet", sender=alice.nick, text=f"{bot.nick}: task 1",
                             room=channel, account=None, operator=True, bot_name=bot.nick)
    bob.say(channel, "\x02!build\x02 foo-1.0-1")
    heard = await inbox.wait_for(lambda i: i.sender == bob.nick)
    assert (heard.room, heard.operator, heard.text) == (channel, False, "!build foo-1.0-1")

    alice.send(f"MODE {channel} +o {bob.nick}")
    await bob.wait_line(lambda h: h.command == "MODE")
    bob.say(channel, "now an op")
    assert (await inbox.wait_for(lambda i: i.text == "now an op")).operator

    bob.say(bot.nick, "!user alice")
    private = await inbox.wait_for(lambda i: i.text == "!user alice")
    assert (private.room, private.direct, private.operator) == (None, True, False)

    bot.deliver(Reply.to(asked, text("task 1 is ", state("CLOSED"))))
    answer = await alice.wait_for(from_bot(bot))
    assert answer.target == channel
    assert strip_irc_formatting(answer.text) == f"{alice.nick}: task 1 is CLOSED"
    assert "\x0303CLOSED\x03" in answer.text
    bot.deliver(Reply.to(private, text("alice is ", bold("alice"))))
    answer = await bob.wait_for(lambda h: h.nick == bot.nick and h.target == bob.nick)
    assert answer.text == "alice is \x02alice\x02"


@pytest_twisted.ensureDeferred
async def test_services_accounts_and_sasl(inspircd, cleanup, log_lines):
    """atheme accounts reach Incoming.account; the bot itself logs in with SASL PLAIN."""
    port, channel = inspircd.port, unique("#acct")
    carol = await user(cleanup, port, caps=("account-tag",))
    carol.say("NickServ", "REGISTER carolpw carol@example.test")
    await carol.wait_for("registered")
    await carol.join(channel)
    account = unique("kbacct")
    reg = await user(cleanup, port, nick=account)
    reg.say("NickServ", "REGISTER botsecret bot@example.test")
    await reg.wait_for("registered")

    bot, inbox = await start_bot(cleanup, port, channels=(channel,), sasl_username=account,
                                 sasl_password="botsecret")
    carol.say(channel, "who am i")
    assert (await inbox.wait_for(lambda i: i.text == "who am i")).account == carol.nick
    bot.deliver(reply(bot, channel, "hello"))
    answer = await carol.wait_for(from_bot(bot))
    assert answer.line.tags.get("account") == account
    assert any(f"logged in to services as {account}" in line for line in log_lines)
    assert not any("botsecret" in line for line in log_lines)

    refused, _ = await start_bot(cleanup, port, wait=False, sasl_username=account,
                                 sasl_password="nope")
    await eventually(lambda: any(f"SASL PLAIN login as {account} refused" in line
                                 for line in log_lines), 10, "the refusal")
    assert not refused.ready and not any("nope" in line for line in log_lines)


@pytest_twisted.ensureDeferred
async def test_without_sasl_the_bot_identifies_to_nickserv(ngircd, cleanup, log_lines):
    """ngircd offers no SASL; a scripted user plays NickServ to see what the bot sends."""
    nickserv = await user(cleanup, ngircd.port, nick="NickServ")
    await start_bot(cleanup, ngircd.port, sasl_username="kojiacct", sasl_password="pw-42")
    assert (await nickserv.wait_for("IDENTIFY")).text == "IDENTIFY kojiacct pw-42"
    assert not any("pw-42" in line for line in log_lines)


# -- what goes out --------------------------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_flood_of_200_lines_arrives_in_order_without_disconnect(inspircd, cleanup,
                                                                      log_lines):
    """Paced at the server's real limit (fakelag, recvq 10K), nothing is lost or dropped."""
    channel = unique("#flood")
    dave = await user(cleanup, inspircd.port)
    await dave.join(channel)
    bot, _ = await start_bot(cleanup, inspircd.fast_port, channels=(channel,),
                             line_rate=inspircd.FAST_RATE, burst=inspircd.FAST_BURST)
    connection = bot.connection
    started = time.monotonic()
    for n in range(200):
        bot.deliver(reply(bot, channel, f"line {n:03d} " + "x" * 90))
    texts = [(await dave.wait_for(from_bot(bot), timeout=30)).text for _ in range(200)]
    elapsed = time.monotonic() - started
    assert texts == [f"line {n:03d} " + "x" * 90 for n in range(200)]
    assert bot.connection is connection and not any("disconnected" in x for x in log_lines)
    print(f"flood: 200 lines in {elapsed:.1f} s")
    # 20 free, then 20/s: about 9 s; more than 7 s shows the bot really waited.
    assert 7 < elapsed < 25


@pytest_twisted.ensureDeferred
async def test_the_flood_limit_is_real(inspircd, cleanup):
    """The same burst sent unpaced gets a client disconnected: the test above means something."""
    flooder = await user(cleanup, inspircd.fast_port)
    for n in range(200):
        flooder.say(flooder.nick, f"line {n:03d} " + "x" * 90)
    error = await flooder.wait_line(lambda h: h.command == "ERROR")
    assert "RecvQ exceeded" in error.text


@pytest_twisted.ensureDeferred
async def test_long_lines_split_under_512_bytes_at_utf8_boundaries(ngircd, cleanup):
    channel = unique("#long")
    erin = await user(cleanup, ngircd.port)
    await erin.join(channel)
    bot, _ = await start_bot(cleanup, ngircd.port, channels=(channel,))
    words = ["koji", "naïve", "日本語のビルド", "🦀🦀", "e\u0301te\u0301", "x" * 40]
    body = " ".join(words[i % len(words)] for i in range(150))
    bot.deliver(reply(bot, channel, body, mention=erin.nick))
    bot.deliver(dm(bot, erin.nick, "ü" * 300))
    bot.deliver(reply(bot, channel, "done"))
    pieces = []
    while not pieces or pieces[-1].text != "done":
        pieces.append(await erin.wait_for(from_bot(bot)))
    lengths = [p.wire_length for p in pieces]
    assert max(lengths) <= LINE_LIMIT and len(pieces) > 5
    in_channel = [p.text for p in pieces if p.target == channel][:-1]
    assert " ".join(in_channel) == f"{erin.nick}: {body}"
    assert min(lengths[:len(in_channel) - 1]) > LINE_LIMIT - 60  # lines are used, not wasted
    assert "".join(p.text for p in pieces if p.target == erin.nick) == "ü" * 300
    assert not any(p.text.startswith("\u0301") for p in pieces)  # accents stay on their letter


@pytest_twisted.ensureDeferred
async def test_line_breaks_in_koji_text_make_one_clean_line_and_stop_quits(ngircd, cleanup):
    channel = unique("#crlf")
    frank = await user(cleanup, ngircd.port)
    await frank.join(channel)
    bot, _ = await start_bot(cleanup, ngircd.port, channels=(channel,))
    bot.deliver(reply(bot, channel, "build foo\r\nQUIT :pwned\nPRIVMSG #x :hi\0", bold("a\rb")))
    bot.deliver(reply(bot, channel, "sentinel"))
    first = await frank.wait_for(from_bot(bot))
    assert first.text == "build foo QUIT :pwned PRIVMSG #x :hi \x02a b\x02"
    assert (await frank.wait_for(from_bot(bot))).text == "sentinel"
    nick = bot.nick
    await bot.stopService()
    quit_line = await frank.wait_line(lambda h: h.command == "QUIT" and h.nick == nick)
    assert "kojibot stopping" in quit_line.text


@pytest_twisted.ensureDeferred
async def test_no_colour_codes_in_a_plus_c_channel(inspircd, cleanup, log_lines):
    channel = unique("#nocolour")
    gina = await user(cleanup, inspircd.port)
    await gina.join(channel)
    gina.send(f"MODE {channel} +c")
    await gina.wait_line(lambda h: h.command == "MODE")
    bot, _ = await start_bot(cleanup, inspircd.port, channels=(channel,))
    message = ("build ", bold("foo"), " is ", state("FAILED"))
    bot.deliver(reply(bot, channel, *message))
    assert (await gina.wait_for(from_bot(bot))).text == "build foo is FAILED"

    gina.send(f"MODE {channel} -c")  # followed from MODE while the bot is in the channel
    await gina.wait_line(lambda h: h.command == "MODE" and h.text == "-c")
    await eventually(lambda: bot.connection.roster.colours_allowed(channel), 5, "-c seen")
    bot.deliver(reply(bot, channel, *message))
    assert "\x0304FAILED" in (await gina.wait_for(from_bot(bot))).text
    gina.send(f"MODE {channel} +c")
    await eventually(lambda: not bot.connection.roster.colours_allowed(channel), 5, "+c seen")
    bot.deliver(reply(bot, channel, *message))
    assert (await gina.wait_for(from_bot(bot))).text == "build foo is FAILED"
    assert not any("cannot send" in line for line in log_lines)


# -- staying connected ------------------------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_reconnects_rejoins_and_delivers_what_was_queued(ngircd, cleanup, log_lines):
    channel = unique("#again")
    bot, _ = await start_bot(cleanup, ngircd.port, channels=(channel,))
    ngircd.stop()
    await eventually(lambda: bot.connection is None, 10, "bot notices the server is gone")
    bot.deliver(reply(bot, channel, "queued while down"))
    ngircd.start()
    restarted = time.monotonic()
    hank = await user(cleanup, ngircd.port)
    await hank.join(channel)
    await hank.wait_line(lambda h: h.command == "JOIN" and h.nick == bot.nick, timeout=30)
    rejoined = time.monotonic() - restarted
    assert (await hank.wait_for(from_bot(bot))).text == "queued while down"
    print(f"reconnect: rejoined {rejoined:.1f} s after the server came back")
    assert rejoined < 30
    assert any("disconnected from 127.0.0.1" in line for line in log_lines)


@pytest_twisted.ensureDeferred
async def test_a_silent_server_is_dropped_and_reconnected(ngircd, cleanup, log_lines):
    bot, _ = await start_bot(cleanup, ngircd.port, ping_interval=0.3, ping_timeout=1.2)
    first = bot.connection
    ngircd.pause()
    try:
        await eventually(lambda: bot.connection is not first, 5, "dead connection dropped")
    finally:
        ngircd.resume()
    await bot.when_ready().addTimeout(15, reactor)
    assert any("no word from 127.0.0.1" in line for line in log_lines)


@pytest_twisted.ensureDeferred
async def test_nick_in_use_takes_an_alternate_then_regains_it(ngircd, cleanup):
    wanted, channel = unique("kojinick"), unique("#nick")
    squatter = await IRCUser.connect(ngircd.port, wanted)
    await squatter.join(channel)
    bot, inbox = await start_bot(cleanup, ngircd.port, nick=wanted, channels=(channel,))
    assert bot.nick == wanted + "_"
    squatter.say(bot.nick, "hi")
    assert (await inbox.wait_for(lambda i: i.text == "hi")).bot_name == wanted + "_"
    await squatter.quit()
    await eventually(lambda: bot.nick == wanted, 10, "nick regained")


@pytest_twisted.ensureDeferred
async def test_server_password(inspircd, cleanup, log_lines):
    bot, _ = await start_bot(cleanup, inspircd.locked_port, password=inspircd.PASSWORD)
    assert bot.ready
    await start_bot(cleanup, inspircd.locked_port, wait=False, password="guess")
    await eventually(lambda: any(x.startswith("error") for x in log_lines), 10, "an error")
    assert [x for x in log_lines if x.startswith("error")] == [
        f"error: cannot connect to 127.0.0.1:{inspircd.locked_port}: Closing link: "
        "(kojibot@127.0.0.1) [Access denied by configuration]"]
    assert "guess" not in " ".join(log_lines) and inspircd.PASSWORD not in " ".join(log_lines)


# -- TLS --------------------------------------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_tls_with_the_network_ca_connects(ngircd, cleanup):
    bot, _ = await start_bot(cleanup, ngircd.tls_port, tls=True, tls_ca=str(ngircd.ca_file))
    assert bot.ready and bot.connection.transport.getPeerCertificate() is not None


@pytest_twisted.ensureDeferred
async def test_tls_with_an_unknown_ca_is_refused_with_one_clear_line(ngircd, cleanup,
                                                                    log_lines):
    bot, _ = await start_bot(cleanup, ngircd.tls_port, wait=False, tls=True)
    bot.retry_policy = lambda attempt: 0.3  # retry quickly: still only one line
    await eventually(lambda: log_lines, 10, "a log line")
    await task.deferLater(reactor, 1.5, lambda: None)
    assert not bot.ready
    errors = [line for line in log_lines if line.startswith("error")]
    assert errors == [f"error: cannot connect to 127.0.0.1:{ngircd.tls_port}: TLS handshake "
                      "failed: certificate verify failed (the server's certificate is not "
                      "trusted: set tls_ca to the network's CA file)"]


# -- pure parts ---------------------------------------------------------------------------------


