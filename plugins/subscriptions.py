"""!subscribe / !unsubscribe / !subscriptions — which build events a channel sees."""

from __future__ import annotations

from typing import Annotated

from kojibot.api import Context, command, text

IN_A_CHANNEL = "Subscriptions belong to channels: ask in the channel that should see the events."
EVENT_HELP = ("EVENT: started, complete, failed, canceled, deleted, tagged, untagged or all "
              "(default: complete failed); broken is a first failure after a success in the "
              "same target, fixed a first success after a failure; add why to say why failed "
              "builds failed.")


async def _subscribe(ctx: Context, kind: str, name: str, events: tuple[str, ...]):
    if ctx.incoming.direct:
        return text(IN_A_CHANNEL)
    try:
        chosen = ctx.subscriptions.events(kind, events)
    except ValueError as exc:
        return text(str(exc))
    new = await ctx.subscriptions.add(kind, name, chosen)
    verb = "Subscribed" if new else "Already subscribed"
    return text(f"{verb}: {kind} {name} ({' '.join(sorted(chosen))}) in {ctx.incoming.room}")


async def _unsubscribe(ctx: Context, kind: str, name: str):
    if ctx.incoming.direct:
        return text(IN_A_CHANNEL)
    if not await ctx.subscriptions.remove(kind, name):
        return text(f"{ctx.incoming.room} has no subscription to {kind} {name}.")
    return text(f"Unsubscribed: {kind} {name} in {ctx.incoming.room}")


@command("subscribe package", permission="operator")
async def subscribe_package(ctx, name: str, *events: Annotated[str, "EVENT"]):
    """Post the build events of package NAME here (NAME may be a glob like python-*)."""
    return await _subscribe(ctx, "package", name, events)


@command("subscribe tag", permission="operator")
async def subscribe_tag(ctx, name: str, *events: Annotated[str, "EVENT"]):
    """Post builds tagged into or untagged from tag NAME (or a glob) here, and its other
    build events."""
    return await _subscribe(ctx, "tag", name, events)


@command("subscribe owner", permission="operator")
async def subscribe_owner(ctx, name: str, *events: Annotated[str, "EVENT"]):
    """Post the build events of Koji user NAME's builds here."""
    return await _subscribe(ctx, "owner", name, events)


@command("subscribe packages", permission="operator")
async def subscribe_packages(ctx, name: str, *events: Annotated[str, "EVENT"]):
    """Post changes to the package lists of tags for package NAME (or a glob) here. EVENT:
    added, updated (owner or arches), blocked, unblocked, removed or all (default: all)."""
    return await _subscribe(ctx, "packages", name, events)


for _declared in (subscribe_package, subscribe_tag, subscribe_owner):
    _declared.help += " " + EVENT_HELP


@command("unsubscribe package", permission="operator")
async def unsubscribe_package(ctx, name: str):
    """Stop posting package NAME's build events here."""
    return await _unsubscribe(ctx, "package", name)


@command("unsubscribe tag", permission="operator")
async def unsubscribe_tag(ctx, name: str):
    """Stop posting tag NAME's build events here."""
    return await _unsubscribe(ctx, "tag", name)


@command("unsubscribe owner", permission="operator")
async def unsubscribe_owner(ctx, name: str):
    """Stop posting Koji user NAME's build events here."""
    return await _unsubscribe(ctx, "owner", name)


@command("unsubscribe packages", permission="operator")
async def unsubscribe_packages(ctx, name: str):
    """Stop posting package-list changes of package NAME here."""
    return await _unsubscribe(ctx, "packages", name)


@command("subscriptions")
async def subscriptions(ctx):
    """List this channel's subscriptions."""
    if ctx.incoming.direct:
        return text("Subscriptions belong to channels: ask in a channel.")
    subs = ctx.subscriptions.current()
    if not subs:
        return text(f"{ctx.incoming.room} has no subscriptions.")
    listed = "; ".join(f"{s.kind} {s.pattern} ({' '.join(sorted(s.events))})" for s in subs)
    return text(f"{ctx.incoming.room}: {listed}")
