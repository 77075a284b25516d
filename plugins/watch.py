"""!watch / !unwatch / !watches — follow a task tree or a build to its end, or a build
into a tag's buildroot."""

from __future__ import annotations

from typing import Annotated

from kojibot.api import Context, Message, command, is_done, root_state, text

MAX_AT_ONCE = 5


@command("watch")
async def watch(ctx, ref: Annotated[str, "ID|NVR"], *more: Annotated[str, "ID|NVR"]):
    """Follow task ID (for a build task, its whole tree) or build NVR: its state and ETA
    now, and a line where you asked (a mention here, or a DM) when it closes, fails or is
    canceled. NVR TAG (or a finished NVR alone: its target's build tag) waits for the build
    to be in TAG's buildroot, as koji wait-repo --build: a line when a repo of TAG made
    after the tagging (inherited tags count) is done."""
    refs = list(dict.fromkeys([ref, *more]))
    if len(refs) > MAX_AT_ONCE:
        return text(f"At most {MAX_AT_ONCE} at once, please.")
    if len(refs) == 2 and not ref.isdigit() and await ctx.hub.koji.getTag(refs[1]):
        found = await ctx.watches.look_buildroot(ref, refs[1])
        return text(found) if isinstance(found, str) else await _into_buildroot(ctx, found)
    return [await _watch_one(ctx, word) for word in refs]


async def _watch_one(ctx: Context, word: str) -> Message:
    kind = "task" if word.isdigit() else "build"
    found = await ctx.watches.look(kind, int(word) if word.isdigit() else word)
    if found is None:
        return text(f"No such {kind}: {word[:60]}")
    line = await (ctx.hub.task if kind == "task" else ctx.hub.build)(found.ref)
    if is_done(found):
        if kind == "build" and root_state(found) == "COMPLETE":
            into = await ctx.watches.look_buildroot(found.ref)
            if not isinstance(into, str):  # else a build with no target: nothing to wait for
                return await _into_buildroot(ctx, into)
        return line.add(" — already finished; not watching it.")
    if _no_room_for(ctx, found):
        return _too_many(ctx)
    new = await ctx.watches.add(found)
    where = "here" if ctx.incoming.room else "in this DM"
    return text("Watching: " if new else "Still watching: ", *line.parts,
                f" — I will say {where} when it ends.")


async def _into_buildroot(ctx: Context, found) -> Message:
    held = await ctx.watches.in_buildroot_now(found)
    if held is not None:
        return held.add(" already; not watching it.")
    if _no_room_for(ctx, found):
        return _too_many(ctx)
    new = await ctx.watches.add(found)
    where = "here" if ctx.incoming.room else "in this DM"
    return text("Watching: " if new else "Still watching: ",
                f"{found.label.removeprefix('build ')} — {ctx.watches.state(found)}; I will say "
                f"{where} when a repo of {found.tag} holds it.")


def _no_room_for(ctx: Context, found) -> bool:
    mine = ctx.watches.current()
    return len(mine) >= ctx.watches.limit and not any(
        w.kind == found.kind and w.ref == found.ref for w in mine)


def _too_many(ctx: Context) -> Message:
    return text(f"You are watching {len(ctx.watches.current())} things already; "
                f"{ctx.prefix}unwatch one first.")


@command("unwatch")
async def unwatch(ctx, ref: Annotated[str, "ID|NVR"]):
    """Stop following task ID or build NVR."""
    for found in ctx.watches.current():
        if (ref.isdigit() and found.ref == int(ref)) or found.label == f"build {ref}":
            await ctx.watches.remove(found)
            return text(f"Stopped watching {found.label}.")
    return text(f"You are not watching {ref[:60]}; {ctx.prefix}watches lists what you watch.")


@command("watches")
async def watches(ctx):
    """What you are watching, and where each will be reported."""
    mine = ctx.watches.current()
    if not mine:
        return text(f"You are not watching anything; {ctx.prefix}watch ID|NVR follows a "
                    "task or build.")
    items = [f"{w.label} {ctx.watches.state(w)} (reported in {w.room or 'a DM'})" for w in mine]
    return text(f"Watching {len(items)}: " + "; ".join(items))
