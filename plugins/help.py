"""!help [COMMAND [SUBCOMMAND]] — what the bot can do."""

from __future__ import annotations

from typing import Annotated

from kojibot.api import command, text


@command("help")
async def help_(ctx, name: Annotated[str, "COMMAND"] = "",
                sub: Annotated[str, "SUBCOMMAND"] = ""):
    """List the commands, or show one command's (or subcommand's) usage and help."""
    commands = ctx.commands
    if not name:
        return text(f"Commands: {', '.join(commands.names())}. {ctx.prefix}help COMMAND "
                    "tells more.")
    wanted = f"{name.removeprefix(ctx.prefix)} {sub}".strip()
    found = commands.get(wanted)
    if found is None:
        return text(f"No command {wanted[:40]}. Commands: {', '.join(commands.names())}")
    return text(f"Usage: {found.usage(ctx.prefix)} — {' '.join(found.help.split())}")
