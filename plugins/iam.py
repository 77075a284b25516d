"""!iam KOJIUSER — link who you are in chat to a Koji user (for !alerts about your builds)."""

from __future__ import annotations

from typing import Annotated

from kojibot.api import command, text


@command("iam")
async def iam(ctx, user: Annotated[str, "KOJIUSER"] = "", who: Annotated[str, "NICK"] = ""):
    """Link your chat identity (services account where the network has one, else your
    nick; on Matrix your user id) to Koji user KOJIUSER; without it, show your link.
    Admins may link someone else: !iam KOJIUSER NICK."""
    if who and not ctx.is_admin:
        return text(f"Linking someone else is for bot admins; say {ctx.prefix}iam KOJIUSER "
                    "to link yourself.")
    identity = who.lower() if who else ctx.identity.who
    if not user:
        koji_user = ctx.identity.koji_user(identity)
        if not koji_user:
            return text(f"{identity} is not linked to a Koji user; say {ctx.prefix}iam "
                        "KOJIUSER.")
        return text(f"{identity} is Koji user {koji_user}.")
    found = await ctx.hub.koji.getUser(user)
    if not found:
        return text(f"No such Koji user: {user[:40]}")
    await ctx.identity.link(found["name"], who or None)
    answer = text(f"Linked {identity} to Koji user {found['name']}.")
    if not ctx.alerts.current(identity):
        answer.add(f" {ctx.prefix}alerts on sends a DM when their builds complete or fail.")
    return answer
