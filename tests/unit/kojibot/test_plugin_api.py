"""The plugin API (kojibot.api): command groups and their help, and a third-party plugin,
loaded from a file, that uses nothing but the documented API (no hub calls here)."""

from __future__ import annotations

import ast
import textwrap

import pytest
import pytest_twisted

from kojibot import config
from kojibot.bot import Bot
from kojibot.chat.model import Incoming
from tests import CHECKOUT

TEAM_PLUGIN = textwrap.dedent('''
    """!team — a team's packages, posted in its channel and alerted to whoever asks."""
    from typing import Annotated

    from kojibot.api import Context, command, text


    @command("team adopt", permission="operator")
    async def adopt(ctx: Context, package: str):
        """Post PACKAGE's failures here and alert the asker by DM."""
        await ctx.subscriptions.add("package", package, frozenset({"failed"}))
        await ctx.alerts.set("package", package, frozenset({"failed", "complete"}))
        return text(f"{ctx.incoming.room} adopted {package}.")


    @command("team drop", permission="operator")
    async def drop(ctx: Context, package: str):
        """Forget PACKAGE."""
        gone = await ctx.subscriptions.remove("package", package) + \
            await ctx.alerts.remove("package", package)
        return text(f"Dropped {package} ({gone} entries).")


    @command("team")
    async def team(ctx: Context):
        """What this channel follows."""
        return text(", ".join(sub.pattern for sub in ctx.subscriptions.current()) or "nothing")
''')


@pytest.fixture
def bot(tmp_path):
    plugin = tmp_path / "team.py"
    plugin.write_text(TEAM_PLUGIN)
    return Bot(config.parse(f"[bot]\nstate = {tmp_path}/state.sqlite3\nrate = 1000\n"
                            f"plugins = help alerts subscriptions {plugin}\n"
                            "[koji]\nserver = http://127.0.0.1:9/kojihub\n"))


async def say(bot, line, operator=False, room="#team"):
    replies = await bot.dispatcher.handle(Incoming("irc", "alice", line, room=room,
                                                   operator=operator))
    return [r.message.plain() for r in replies]


def test_the_third_party_plugin_imports_only_the_api():
    imported = {node.module for node in ast.walk(ast.parse(TEAM_PLUGIN))
                if isinstance(node, ast.ImportFrom)}
    assert imported == {"typing", "kojibot.api"}


@pytest_twisted.ensureDeferred
async def test_a_third_party_plugin_keeps_store_and_indexes_in_step(bot, tmp_path):
    assert await say(bot, "!team adopt bash") == ["!team needs channel operator rights here."]
    assert await say(bot, "!team adopt bash", operator=True) == ["#team adopted bash."]
    assert [s.room for s in bot.subscriptions.match("package", "bash", "failed")] == ["#team"]
    assert bot.alerts.index.match(None, "bash", "complete") == [("irc", "alice")]
    assert await say(bot, "!team") == ["bash"]
    assert await say(bot, "!alerts") == ["Your DM alerts: package bash (complete failed)"]
    assert await say(bot, "!team drop bash", operator=True) == ["Dropped bash (2 entries)."]
    assert bot.subscriptions.match("package", "bash", "failed") == []
    assert bot.alerts.index.match(None, "bash", "complete") == []
    assert await say(bot, "!team retire", operator=True) == [
        "Unknown 'retire'. Usage: !team adopt|drop PACKAGE"]


@pytest_twisted.ensureDeferred
async def test_help_comes_from_the_command_tree(bot):
    assert await say(bot, "!help") == [
        "Commands: alerts, help, subscribe, subscriptions, team, unsubscribe. "
        "!help COMMAND tells more."]
    assert await say(bot, "!help team") == [
        "Usage: !team adopt|drop PACKAGE — What this channel follows. "
        "Subcommands: adopt, drop."]
    assert await say(bot, "!help team drop") == ["Usage: !team drop PACKAGE — Forget PACKAGE."]
    assert await say(bot, "!help alerts") == [
        "Usage: !alerts on [EVENT...] | off | package NAME [EVENT...|off] | buildroot|koji "
        "[off] | mine [EVENT...|off] — Get a DM when builds change state; alone: your alerts. "
        "Subcommands: on, off, package, buildroot, mine, koji."]
    assert (await say(bot, "!help alerts package"))[0].startswith(
        "Usage: !alerts package NAME [EVENT...|off] — A DM when package NAME's builds")
    assert await say(bot, "!help subscribe") == [
        "Usage: !subscribe package|tag|owner|packages NAME [EVENT...] — Subcommands: "
        "package, tag, owner, packages."]
    assert await say(bot, "!help subscribe colour") == [
        "No command subscribe colour. Commands: alerts, help, subscribe, subscriptions, team, "
        "unsubscribe"]


def test_the_builtin_plugins_import_only_the_api_and_txkoji():

    folder = CHECKOUT / "plugins"
    for path in folder.glob("*.py"):
        modules = {node.module for node in ast.walk(ast.parse(path.read_text()))
                   if isinstance(node, ast.ImportFrom)}
        modules |= {alias.name for node in ast.walk(ast.parse(path.read_text()))
                    if isinstance(node, ast.Import) for alias in node.names}
        stray = {m for m in modules if m not in ("__future__", "typing", "kojibot.api")
                 and m.split(".")[0] != "txkoji"}
        assert stray == set(), path.name
