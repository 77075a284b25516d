"""!help [COMMAND] — what the bot can do."""

from __future__ import annotations

from typing import Annotated

from kojibot.commands import command
from kojibot.message import text


@command("help")
async def help_(ctx, name: Annotated[str, "COMMAND"] = ""):
    """List the commands, or show one command's usage and help."""
    registry = ctx.bot.registry
    if not name:
        names = ", ".join(registry.names())
        return text(f"Commands: {names}. {ctx.prefix}help COMMAND tells more.")
    found = registry.get(name.removeprefix(ctx.prefix))
    if found is None:
        return text(f"No command {name[:30]}. Commands: {', '.join(registry.names())}")
    return text(f"Usage: {found.usage(ctx.prefix)} — {' '.join(found.help.split())}")
