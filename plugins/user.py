"""!user NAME|ID — who a Koji user is."""

from __future__ import annotations

from typing import Annotated

from kojibot.commands import command
from kojibot.describe import user_line
from kojibot.message import Message, text
from txkoji import web


async def user_answer(koji, ref: int | str) -> Message:
    user = await koji.getUser(ref)
    if not user:
        return text(f"No such user: {ref}")
    url = web.page_url(koji.weburl, "userinfo", user["id"]) if koji.weburl else None
    return user_line(user, url)


@command("user")
async def user(ctx, ref: Annotated[str, "NAME|ID"]):
    """Show a Koji user: name, id, status, Kerberos principals, link."""
    return await user_answer(ctx.koji, int(ref) if ref.isdigit() else ref)
