"""!subscribe and friends through the dispatcher with a real SQLite store (no hub calls)."""

import pytest
import pytest_twisted

from kojibot import config
from kojibot.bot import Bot
from kojibot.chat.model import Incoming


@pytest.fixture
def make_bot(tmp_path):
    def make():
        return Bot(config.parse(f"[bot]\nstate = {tmp_path}/state.sqlite3\nadmins = root\n"
                                "[koji]\nserver = http://127.0.0.1:9/kojihub\n"))
    return make


async def say(bot, line, room="#koji", sender="alice", operator=False, account=None):
    replies = await bot.dispatcher.handle(Incoming("irc", sender, line, room=room,
                                                   operator=operator, account=account))
    return [r.message.plain() for r in replies]


@pytest_twisted.ensureDeferred
async def test_only_operators_and_admins_change_subscriptions(make_bot):
    bot = make_bot()
    assert await say(bot, "!subscribe package bash") == [
        "!subscribe needs channel operator rights here."]
    assert await say(bot, "!subscribe package bash", operator=True) == [
        "Subscribed: package bash (complete failed) in #koji"]
    assert await say(bot, "!subscribe tag f41-updates tagged", sender="x", account="root") == [
        "Subscribed: tag f41-updates (tagged) in #koji"]
    assert await say(bot, "!subscriptions") == [
        "#koji: package bash (complete failed); tag f41-updates (tagged)"]
    assert [s.room for s in bot.subscriptions.match("package", "bash", "failed")] == ["#koji"]


@pytest_twisted.ensureDeferred
async def test_subscriptions_persist_and_unsubscribe(make_bot):
    bot = make_bot()
    await say(bot, "!subscribe package python-* all", operator=True)
    again = make_bot()  # a restart
    assert await say(again, "!subscriptions") == [
        "#koji: package python-* (canceled complete deleted failed started tagged untagged)"]
    assert [s.room for s in again.subscriptions.match("package", "python-six", "started")] == \
        ["#koji"]
    assert await say(again, "!unsubscribe package python-*", operator=True) == [
        "Unsubscribed: package python-* in #koji"]
    assert again.subscriptions.match("package", "python-six", "started") == []
    assert await say(again, "!unsubscribe package python-*", operator=True) == [
        "#koji has no subscription to package python-*."]


@pytest_twisted.ensureDeferred
async def test_bad_subscription_input(make_bot):
    bot = make_bot()
    assert await say(bot, "!subscribe colour blue", operator=True) == [
        "Unknown 'colour'. Usage: !subscribe package|tag|owner|packages NAME [EVENT...]"]
    assert await say(bot, "!subscribe package bash exploded", operator=True) == [
        "Unknown event 'exploded': use started, complete, failed, canceled, deleted, tagged, "
        "untagged, broken, fixed or all (and why, edit, lines)."]
    assert await say(bot, "!subscribe packages bash complete", operator=True) == [
        "Unknown event 'complete': use added, updated, blocked, unblocked, removed or all."]
    assert await say(bot, "!subscribe package", operator=True) == [
        "missing NAME. Usage: !subscribe package|tag|owner|packages NAME [EVENT...]"]
    assert await say(bot, "subscribe package bash", room=None) == [
        "!subscribe needs channel operator rights here."]
    assert await say(bot, "subscribe package bash", room=None, account="root") == [
        "Subscriptions belong to channels: ask in the channel that should see the events."]


@pytest_twisted.ensureDeferred
async def test_transitions_and_package_lists_are_subscribed_like_events(make_bot):
    bot = make_bot()
    assert await say(bot, "!subscribe package bash broken fixed why", operator=True) == [
        "Subscribed: package bash (broken fixed why) in #koji"]
    assert await say(bot, "!subscribe packages python-*", operator=True) == [
        "Subscribed: packages python-* (added blocked removed unblocked updated) in #koji"]
    assert [s.room for s in bot.subscriptions.match("package", "bash", "broken")] == ["#koji"]
    assert bot.subscriptions.match("package", "bash", "failed") == []
    assert [s.room for s in bot.subscriptions.match("packages", "python-six", "blocked")] == \
        ["#koji"]
    assert await say(bot, "!unsubscribe packages python-*", operator=True) == [
        "Unsubscribed: packages python-* in #koji"]


@pytest_twisted.ensureDeferred
async def test_edit_is_the_default_and_lines_is_kept(make_bot):
    bot = make_bot()
    assert await say(bot, "!subscribe package bash started complete edit", operator=True) == [
        "Subscribed: package bash (complete started) in #koji"]
    assert await say(bot, "!subscribe package bash started complete lines", operator=True) == [
        "Subscribed: package bash (complete lines started) in #koji"]
    assert await say(bot, "!subscribe package bash lines", operator=True) == [
        "Subscribed: package bash (complete failed lines) in #koji"]
    assert await say(bot, "!subscribe package bash edit lines", operator=True) == [
        "Choose edit or lines, not both."]
    assert await say(bot, "!subscribe package bash started complete", operator=True) == [
        "Subscribed: package bash (complete started) in #koji"]
