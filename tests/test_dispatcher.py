"""The dispatcher without any network or hub: handlers here are stand-ins declared in
this module; the real plugins are tested against the real hub in test_plugins_hub.py."""

import types
from typing import Annotated

import pytest_twisted

import txkoji
from kojibot.chat import Incoming
from kojibot.commands import Registry, command, listener
from kojibot.dispatcher import Dispatcher
from kojibot.message import text
from kojibot.ratelimit import RateLimit


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


@listener
async def shout(ctx):
    return text("heard a link") if "http" in ctx.incoming.text else None


def make(rate=10):
    registry = Registry()
    registry.add_module(types.SimpleNamespace(echo=echo, fault=fault, down=down, bug=bug,
                                              secret=secret, settings=settings, shout=shout))
    bot = types.SimpleNamespace(koji=types.SimpleNamespace(server="http://hub.test/kojihub"),
                                registry=registry)
    now = [0.0]
    dispatcher = Dispatcher(registry, bot, admins=["root-account"], ignore=["spam*"],
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
    assert unreachable == ("The Koji hub did not answer: connection refused "
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
