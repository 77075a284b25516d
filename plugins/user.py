"""!user NAME|ID — who a Koji user is."""

from __future__ import annotations

from typing import Annotated

from kojibot.api import command


@command("user")
async def user(ctx, ref: Annotated[str, "NAME|ID"]):
    """Show a Koji user: name, id, status, Kerberos principals, link."""
    return await ctx.hub.user(int(ref) if ref.isdigit() else ref)
