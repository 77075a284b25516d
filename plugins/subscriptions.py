"""!subscribe / !unsubscribe / !subscriptions — which build events a channel sees."""

from __future__ import annotations

from typing import Annotated

from kojibot.commands import command
from kojibot.message import text
from kojibot.store import Subscription
from kojibot.subscriptions import DEFAULT_EVENTS, EVENTS, KINDS

KIND_LABEL = "package|tag|owner"


def _check(ctx, kind: str) -> str | None:
    if ctx.incoming.direct:
        return "Subscriptions belong to channels: ask in the channel that should see the events."
    if kind not in KINDS:
        return f"Unknown kind {kind[:20]!r}: use package, tag or owner."
    return None


@command("subscribe", permission="operator")
async def subscribe(ctx, kind: Annotated[str, KIND_LABEL], name: str,
                    *events: Annotated[str, "EVENT"]):
    """Post NAME's build events here (NAME may be a glob like python-*). EVENT: started,
    complete, failed, canceled, deleted, tagged, untagged or all (default: complete failed)."""
    problem = _check(ctx, kind)
    if problem:
        return text(problem)
    wanted = {event.lower() for event in events}
    if "all" in wanted:
        wanted = set(EVENTS)
    unknown = sorted(wanted - set(EVENTS))
    if unknown:
        return text(f"Unknown event {unknown[0][:20]!r}: use {', '.join(EVENTS)} or all.")
    incoming = ctx.incoming
    sub = Subscription(incoming.network, incoming.room, kind, name,
                       frozenset(wanted or DEFAULT_EVENTS), created_by=incoming.identity)
    changed = ctx.bot.store.subscribe(sub)
    ctx.bot.subscriptions.add(sub)
    verb = "Subscribed" if changed else "Already subscribed"
    return text(f"{verb}: {kind} {name} ({' '.join(sorted(sub.events))}) in {incoming.room}")


@command("unsubscribe", permission="operator")
async def unsubscribe(ctx, kind: Annotated[str, KIND_LABEL], name: str):
    """Stop posting NAME's build events here."""
    problem = _check(ctx, kind)
    if problem:
        return text(problem)
    incoming = ctx.incoming
    if not ctx.bot.store.unsubscribe(incoming.network, incoming.room, kind, name):
        return text(f"{incoming.room} has no subscription to {kind} {name}.")
    ctx.bot.subscriptions.remove(Subscription(incoming.network, incoming.room, kind, name,
                                              frozenset()))
    return text(f"Unsubscribed: {kind} {name} in {incoming.room}")


@command("subscriptions")
async def subscriptions(ctx):
    """List this channel's subscriptions."""
    incoming = ctx.incoming
    if incoming.direct:
        return text("Subscriptions belong to channels: ask in a channel.")
    subs = ctx.bot.store.subscriptions(incoming.network, incoming.room)
    if not subs:
        return text(f"{incoming.room} has no subscriptions.")
    listed = "; ".join(f"{s.kind} {s.pattern} ({' '.join(sorted(s.events))})" for s in subs)
    return text(f"{incoming.room}: {listed}")
