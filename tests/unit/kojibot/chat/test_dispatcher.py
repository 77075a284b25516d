"""The dispatcher without any network or hub: handlers here are stand-ins declared in
this module, and the real plugins run against txkoji.testing.HubDouble, which records and
refuses every call; the real plugins are tested against the real hub in
test_plugins_hub.py."""

import types
from typing import Annotated

import pytest
import pytest_twisted
from twisted.logger import globalLogPublisher

import txkoji
from kojibot import config
from kojibot.api import Context
from kojibot.chat.commands import Registry, command, listener
from kojibot.chat.dispatcher import Dispatcher
from kojibot.chat.message import text
from kojibot.chat.model import Incoming
from kojibot.chat.ratelimit import RateLimit
from kojibot.loader import load_plugins
from kojibot.lookups import Lookups
from kojibot.services.hub import Hub
from txkoji.rpc import I8_MAX as MAX_ID
from txkoji.testing import HubDouble


@command("echo")
async def echo(ctx, word: str):
    """Say WORD back."""
    return text(word)


@command("fault")
async def fault(ctx, code: Annotated[int, "CODE"]):
    """Raise a hub fault."""
    raise txkoji.exceptions.from_fault(code, "Traceback (most recent call last):\n  ...\n"
                                       "koji.GenericError: no such thing")


@command("down")
async def down(ctx):
    """The hub is unreachable."""
    raise txkoji.KojiTransportError("connection refused", "http://hub.test/kojihub")


@command("bug")
async def bug(ctx):
    """A plugin bug."""
    raise ZeroDivisionError("oops")


@command("secret", permission="admin")
async def secret(ctx):
    """Admins only."""
    return text("ok")


@command("settings", permission="operator")
async def settings(ctx):
    """Operators only."""
    return text("ok")


SHOUTED = []


@listener(r"http://")
async def shout(ctx):
    SHOUTED.append(ctx.incoming.text)
    return text("heard a link")


def contexts(registry, koji):
    """A context factory with the hub only: these lines never reach the state services."""
    hub = Hub(koji, Lookups(koji))
    return lambda incoming: Context(incoming, "!", registry, False, hub, None, None, None, None)


def make(rate=10):
    registry = Registry()
    registry.add_module(types.SimpleNamespace(echo=echo, fault=fault, down=down, bug=bug,
                                              secret=secret, settings=settings, shout=shout))
    now = [0.0]
    dispatcher = Dispatcher(registry, contexts(registry, None), hub_name="http://hub.test/kojihub",
                            admins=["root-account"], ignore=["spam*"],
                            rate=RateLimit(rate, clock=lambda: now[0]))
    return dispatcher, now


def say(line, room="#koji", sender="alice", **kw):
    return Incoming("irc", sender, line, room=room, bot_name="kojibot", **kw)


async def lines(dispatcher, incoming):
    return [(r.target.name, r.mention, r.message.plain())
            for r in await dispatcher.handle(incoming)]


@pytest_twisted.ensureDeferred
async def test_channel_answer_mentions_asker_and_dm_answer_goes_to_dm():
    dispatcher, _ = make()
    assert await lines(dispatcher, say("!echo hi")) == [("#koji", "alice", "hi")]
    assert await lines(dispatcher, say("kojibot: echo hi")) == [("#koji", "alice", "hi")]
    assert await lines(dispatcher, say("echo hi", room=None)) == [("alice", None, "hi")]
    assert await lines(dispatcher, say("echo hi")) == []  # not addressed in a channel


@pytest_twisted.ensureDeferred
async def test_bad_arguments_get_the_usage_line():
    dispatcher, _ = make()
    assert await lines(dispatcher, say("!echo")) == [
        ("#koji", "alice", "missing WORD. Usage: !echo WORD")]
    assert await lines(dispatcher, say("!fault x")) == [
        ("#koji", "alice", "CODE must be a number, not 'x'. Usage: !fault CODE")]


@pytest_twisted.ensureDeferred
async def test_unknown_command_gets_one_hint():
    dispatcher, _ = make()
    assert await lines(dispatcher, say("!frobnicate now")) == [
        ("#koji", "alice", "Unknown command !frobnicate — try !help")]


@pytest_twisted.ensureDeferred
async def test_hub_fault_and_outage_are_one_line_naming_the_hub():
    dispatcher, _ = make()
    ((_, _, faulted),) = await lines(dispatcher, say("!fault 1000"))
    assert faulted == "Koji hub http://hub.test/kojihub said: koji.GenericError: no such thing"
    ((_, _, unreachable),) = await lines(dispatcher, say("!down"))
    assert unreachable == ("Cannot reach the Koji hub: connection refused "
                           "(http://hub.test/kojihub)")


@pytest_twisted.ensureDeferred
async def test_plugin_bug_is_logged_not_shown():
    dispatcher, _ = make()
    ((_, _, said),) = await lines(dispatcher, say("!bug"))
    assert said == "Sorry, !bug failed; the error is in the bot's log."
    assert "Traceback" not in said and "ZeroDivision" not in said


@pytest_twisted.ensureDeferred
async def test_permissions():
    dispatcher, _ = make()
    assert (await lines(dispatcher, say("!secret")))[0][2] == "!secret is for bot admins."
    assert (await lines(dispatcher, say("!secret", account="root-account")))[0][2] == "ok"
    assert (await lines(dispatcher, say("!settings")))[0][2] == \
        "!settings needs channel operator rights here."
    assert (await lines(dispatcher, say("!settings", operator=True)))[0][2] == "ok"


@pytest_twisted.ensureDeferred
async def test_ignore_list():
    dispatcher, _ = make()
    assert await lines(dispatcher, say("!echo hi", sender="spammer")) == []


@pytest_twisted.ensureDeferred
async def test_rate_limit_warns_once_then_recovers():
    dispatcher, now = make(rate=3)
    answers = [await lines(dispatcher, say(f"!echo {n}")) for n in range(6)]
    assert [a[0][2] if a else None for a in answers] == [
        "0", "1", "2", "You have sent 3 commands in a minute; please wait a little.", None, None]
    assert await lines(dispatcher, say("!echo other", sender="bob")) == [
        ("#koji", "bob", "other")]
    now[0] += 61
    assert (await lines(dispatcher, say("!echo back")))[0][2] == "back"


@pytest_twisted.ensureDeferred
async def test_listeners_hear_plain_lines():
    dispatcher, _ = make()
    assert await lines(dispatcher, say("look http://x")) == [("#koji", "alice", "heard a link")]
    assert await lines(dispatcher, say("just chatting")) == []


@pytest_twisted.ensureDeferred
async def test_a_dm_hears_pasted_links_and_calls_only_command_words_unknown():
    dispatcher, _ = make()
    assert await lines(dispatcher, say("http://x", room=None)) == [("alice", None, "heard a link")]
    assert await lines(dispatcher, say("look http://x", room=None)) == [
        ("alice", None, "heard a link")]
    assert await lines(dispatcher, say("👍", room=None)) == []
    assert await lines(dispatcher, say("frobnicate now", room=None)) == [
        ("alice", None, "Unknown command !frobnicate — try !help")]
    assert await lines(dispatcher, say("!look http://x", room=None)) == [
        ("alice", None, "Unknown command !look — try !help")]


@pytest_twisted.ensureDeferred
async def test_the_rate_limit_stops_a_listener_before_it_runs():
    dispatcher, _ = make(rate=1)
    SHOUTED.clear()
    await lines(dispatcher, say("!echo one"))
    assert await lines(dispatcher, say("look http://x")) == [
        ("#koji", "alice", "You have sent 1 commands in a minute; please wait a little.")]
    assert await lines(dispatcher, say("again http://y")) == []
    assert SHOUTED == []
    assert await lines(dispatcher, say("chatting freely")) == []  # no match: not counted


def refuse(method, args, kwargs):
    raise txkoji.GenericError(f"stand-in hub: no {method} here")


def with_plugins():
    """The real plugins on an in-memory hub that records every call (MultiCall ones too)
    and refuses it, so a test sees whether a line got as far as the hub at all."""
    hub = HubDouble(refuse)
    registry = load_plugins(config.defaults().bot.plugins)
    koji = hub.connection(weburl="http://hub.test/koji")
    return Dispatcher(registry, contexts(registry, koji), hub_name=koji.server,
                      rate=RateLimit(10_000)), hub


BIG = "99999999999999999999999"
BAD_WORDS = {
    BIG: f"{BIG} is not a Koji id (1 to {MAX_ID})",
    str(MAX_ID + 1): f"{MAX_ID + 1} is not a Koji id",
    "bash\x00": "must not contain control characters (found U+0000)",
    "1\x07": "must not contain control characters (found U+0007)",
    "a\x1b[0m": "must not contain control characters (found U+001B)",
    "x\ufffe": "must not contain control characters (found U+FFFE)",
    "x" * 5000: "is too long (5000 characters, at most 255)",
}


@pytest.mark.parametrize("word", list(BAD_WORDS), ids=lambda w: repr(w[:12]))
@pytest_twisted.ensureDeferred
async def test_bad_words_get_the_usage_line_and_never_reach_the_hub(word):
    dispatcher, hub = with_plugins()
    registry = dispatcher.registry
    for declared in registry.declared():
        name = declared.name
        lines_ = [r.message.plain() for r in await dispatcher.handle(
            say(f"!{name} {word}", operator=True))]
        usage = f"Usage: {registry.get(name.split()[0]).usage('!')}"  # a group's, for a sub
        if declared.params:
            assert len(lines_) == 1 and BAD_WORDS[word] in lines_[0], (name, lines_)
        elif " " in name or registry.get(name) is declared:
            assert lines_ == [f"too many arguments. {usage}"], name
        else:  # a group's own command takes no words: the word is no subcommand either
            assert lines_ == [f"Unknown {word[:20]!r}. {usage}"], name
        assert lines_[0].endswith(usage), (name, lines_)
    assert hub.calls == []


@pytest_twisted.ensureDeferred
async def test_task_beyond_64_bits_is_a_usage_line_not_a_plugin_failure():
    dispatcher, hub = with_plugins()
    assert await lines(dispatcher, say(f"!task {BIG}")) == [
        ("#koji", "alice", f"ID {BIG} is not a Koji id (1 to {MAX_ID}). Usage: !task ID")]
    assert await lines(dispatcher, say("!build 1 2\x00")) == [
        ("#koji", "alice", "too many arguments. Usage: !build NVR|ID")]
    assert hub.calls == []


@pytest_twisted.ensureDeferred
async def test_good_words_do_reach_the_hub():
    """The control for the test above: the same commands with fit words call the hub."""
    dispatcher, hub = with_plugins()
    ((_, _, said),) = await lines(dispatcher, say(f"!task {MAX_ID}"))
    assert said == ("Koji hub http://hub.test/kojihub said: "
                    "stand-in hub: no getTaskInfo here")
    assert ("getTaskInfo", (MAX_ID,)) in [call[:2] for call in hub.calls]
    hub.calls.clear()
    await lines(dispatcher, say("!build bash-5.2.26-3.fc41"))
    assert ("getBuild", ("bash-5.2.26-3.fc41",)) in [call[:2] for call in hub.calls]


@pytest.fixture
def logged():
    events = []
    globalLogPublisher.addObserver(events.append)
    yield events
    globalLogPublisher.removeObserver(events.append)


@pytest_twisted.ensureDeferred
async def test_hub_failures_are_answered_not_logged_again(logged):
    """txkoji logs each failed hub call once; the dispatcher only answers it."""
    dispatcher, _ = make()
    await lines(dispatcher, say("!fault 1000"))
    await lines(dispatcher, say("!down"))
    assert [e for e in logged if e.get("log_namespace") == "kojibot.chat.dispatcher"] == []
    await lines(dispatcher, say("!bug"))
    (failure,) = [e for e in logged if e.get("log_namespace") == "kojibot.chat.dispatcher"]
    assert failure["log_failure"].check(ZeroDivisionError)
