"""!user NAME|ID — who a Koji user is."""

from __future__ import annotations

from typing import Annotated

from kojibot.api import command, user_answer


@command("user")
async def user(ctx, ref: Annotated[str, "NAME|ID"]):
    """Show a Koji user: name, id, status, Kerberos principals, link."""
    return await user_answer(ctx.koji, int(ref) if ref.isdigit() else ref)
