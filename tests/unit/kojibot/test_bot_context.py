"""The bot's context factory: a Context reads without writing, and a heard line is where a
known person's new nick is written (no server: SQLite state, a hub nobody calls)."""

from __future__ import annotations

import pytest
import pytest_twisted

from kojibot import config
from kojibot.bot import Bot
from kojibot.chat.model import Incoming
from tests.statedb import settled


@pytest.fixture
def bot(tmp_path):
    made = Bot(config.parse(f"[bot]\nstate = {tmp_path}/state.sqlite3\nadmins = root\n"
                            "[koji]\nserver = http://127.0.0.1:9/kojihub\n"))
    yield made
    made.store.close()


async def written(store):
    return (await store.people(), await store.alerts(), await store.watches(),
            await store.subscriptions())


@pytest_twisted.ensureDeferred
async def test_reading_every_member_writes_nothing(bot):
    ctx = bot.context(Incoming("irc", "Alice_", "!alerts", room="#koji", account="Alice"))
    assert (ctx.prefix, ctx.is_admin, ctx.identity.who) == ("!", False, "alice")
    assert ctx.hub.koji is bot.koji and ctx.commands is bot.registry
    assert ctx.identity.koji_user() is None
    assert ctx.subscriptions.current() == ctx.alerts.current() == ctx.watches.current() == []
    await settled(bot.store)
    assert await written(bot.store) == ([], [], [], [])
    assert bot.context(Incoming("irc", "x", "", account="Root")).is_admin


@pytest_twisted.ensureDeferred
async def test_a_heard_line_moves_a_known_person_and_only_them(bot):
    await bot.context(Incoming("irc", "al", "", account="alice")).identity.link("alice")
    await bot.receive(Incoming("irc", "al_away", "hello all", room="#koji", account="alice"))
    await bot.receive(Incoming("irc", "stranger", "hello", room="#koji"))
    await settled(bot.store)
    (person,) = await bot.store.people()
    assert (person.identity, person.contact, person.koji_user) == ("alice", "al_away", "alice")
    assert bot.alerts.person("irc", "alice").contact == "al_away"
