"""The store off the reactor thread, on an SQLite file another process has locked: commands
that only read answer at once, a write waits alone and confirms once the lock is gone, and
/healthz names the database meanwhile (no servers needed: SQLite is the real peer)."""

from __future__ import annotations

import sqlite3
import time
from types import SimpleNamespace

import pytest_twisted
from twisted.internet import defer, reactor, task

from kojibot import config
from kojibot.bot import Bot
from kojibot.chat.model import Incoming
from kojibot.health import DATABASE_STALLED, problems


def sleep(seconds: float) -> defer.Deferred:
    return task.deferLater(reactor, seconds, lambda: None)


async def say(bot, line: str) -> list[str]:
    replies = await bot.dispatcher.handle(Incoming("irc", "alice", line, room="#locked",
                                                   operator=True))
    return [reply.message.plain() for reply in replies]


@pytest_twisted.ensureDeferred
async def test_a_locked_sqlite_file_holds_up_only_the_write_that_needs_it(tmp_path):
    state = tmp_path / "state.sqlite3"
    bot = Bot(config.parse(f"[bot]\nstate = {state}\nrate = 1000\n"
                           "plugins = help subscriptions\n"
                           "[koji]\nserver = http://127.0.0.1:9/kojihub\n"))
    assert await say(bot, "!subscribe package first") == [
        "Subscribed: package first (complete failed) in #locked"]
    other = sqlite3.connect(state, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process's write lock
    try:
        writing = defer.ensureDeferred(say(bot, "!subscribe package second"))
        started = time.monotonic()
        assert await say(bot, "!subscriptions") == ["#locked: package first (complete failed)"]
        assert (await say(bot, "!help"))[0].startswith("Commands: help, subscribe")
        assert time.monotonic() - started < 0.5 and not writing.called
        await sleep(DATABASE_STALLED + 0.5)
        health = SimpleNamespace(adapters={}, consumer=None, outbox=bot.outbox, store=bot.store)
        assert [reason for reason in problems(health, 60) if "state database" in reason] == [
            f"state database: a query (state) has waited {DATABASE_STALLED + 0.5:.0f} s"]
        assert not writing.called
    finally:
        other.execute("COMMIT")
        other.close()
    assert await writing.addTimeout(5, reactor) == [
        "Subscribed: package second (complete failed) in #locked"]
    assert await say(bot, "!subscriptions") == [
        "#locked: package first (complete failed); package second (complete failed)"]
    assert problems(health, 60) == []
    bot.store.close()


@pytest_twisted.ensureDeferred
async def test_writes_handed_to_one_lane_land_in_the_order_handed(tmp_path):
    from kojibot.state.store import Store, Subscription

    store = Store(str(tmp_path / "state.sqlite3"))
    sub = Subscription("irc", "#o", "package", "p", frozenset({"complete"}))
    handed = [store.subscribe(sub), store.unsubscribe("irc", "#o", "package", "p"),
              store.subscribe(sub), store.unsubscribe("irc", "#o", "package", "p")]
    assert await defer.gatherResults(handed) == [True, True, True, True]
    assert await store.subscriptions() == []
    store.close()
