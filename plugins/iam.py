"""!iam KOJIUSER — link who you are in chat to a Koji user (for !alerts about your builds)."""

from __future__ import annotations

from typing import Annotated

from kojibot.commands import command
from kojibot.message import text


def whoami(ctx) -> tuple[str, str]:
    """(identity, contact) of the speaker: the account (or nick, or Matrix id), and where
    a DM reaches them now, remembered for their later alerts (an IRC nick may change)."""
    incoming, store = ctx.incoming, ctx.bot.store
    identity = incoming.identity.lower()
    known = store.person(incoming.network, identity)
    if known is None or known.contact != incoming.sender:
        store.set_contact(incoming.network, identity, incoming.sender)
        ctx.bot.alerts.reload(incoming.network, identity)
    return identity, incoming.sender


@command("iam")
async def iam(ctx, user: Annotated[str, "KOJIUSER"] = "", who: Annotated[str, "NICK"] = ""):
    """Link your chat identity (services account where the network has one, else your
    nick; on Matrix your user id) to Koji user KOJIUSER; without it, show your link.
    Admins may link someone else: !iam KOJIUSER NICK."""
    incoming, store = ctx.incoming, ctx.bot.store
    if who and not ctx.bot.dispatcher.is_admin(incoming):
        return text(f"Linking someone else is for bot admins; say {ctx.prefix}iam KOJIUSER "
                    "to link yourself.")
    identity, contact = (who.lower(), who) if who else whoami(ctx)
    if not user:
        person = store.person(incoming.network, identity)
        if person is None or not person.koji_user:
            return text(f"{identity} is not linked to a Koji user; say {ctx.prefix}iam "
                        "KOJIUSER.")
        return text(f"{identity} is Koji user {person.koji_user}.")
    found = await ctx.koji.getUser(user)
    if not found:
        return text(f"No such Koji user: {user[:40]}")
    store.link(incoming.network, identity, contact, found["name"], incoming.identity)
    ctx.bot.alerts.reload(incoming.network, identity)
    answer = text(f"Linked {identity} to Koji user {found['name']}.")
    if not store.alerts(incoming.network, identity):
        answer.add(f" {ctx.prefix}alerts on sends a DM when their builds complete or fail.")
    return answer
