"""!watch / !unwatch / !watches — follow a task tree or a build to its end."""

from __future__ import annotations

from typing import Annotated

from kojibot.answers import build_answer, task_answer
from kojibot.commands import command
from kojibot.message import Message, text
from kojibot.watcher import PER_PERSON
from kojibot.watches import is_done, root_state
from kojibot.plugins.iam import whoami

MAX_AT_ONCE = 5


@command("watch")
async def watch(ctx, ref: Annotated[str, "ID|NVR"], *more: Annotated[str, "ID|NVR"]):
    """Follow task ID (for a build task, its whole tree) or build NVR: its state and ETA
    now, and a line where you asked (a mention here, or a DM) when it closes, fails or is
    canceled."""
    refs = list(dict.fromkeys([ref, *more]))
    if len(refs) > MAX_AT_ONCE:
        return text(f"At most {MAX_AT_ONCE} at once, please.")
    identity, _ = whoami(ctx)
    return [await _watch_one(ctx, identity, word) for word in refs]


async def _watch_one(ctx, identity: str, word: str) -> Message:
    incoming, watcher = ctx.incoming, ctx.bot.watcher
    kind = "task" if word.isdigit() else "build"
    found = await watcher.look(kind, int(word) if word.isdigit() else word)
    if found is None:
        return text(f"No such {kind}: {word[:60]}")
    answer = task_answer if kind == "task" else build_answer
    line = await answer(ctx.koji, found.ref)
    if is_done(found):
        return line.add(" — already finished; not watching it.")
    mine = ctx.bot.store.watches(incoming.network, identity)
    if len(mine) >= PER_PERSON and not any(w.kind == kind and w.ref == found.ref
                                           for w in mine):
        return text(f"You are watching {len(mine)} things already; "
                    f"{ctx.prefix}unwatch one first.")
    found.network, found.identity = incoming.network, identity
    found.asker, found.room = incoming.sender, incoming.room
    new = watcher.add(found)
    where = "here" if incoming.room else "in this DM"
    return text("Watching: " if new else "Still watching: ", *line.parts,
                f" — I will say {where} when it ends.")


@command("unwatch")
async def unwatch(ctx, ref: Annotated[str, "ID|NVR"]):
    """Stop following task ID or build NVR."""
    identity, _ = whoami(ctx)
    for found in ctx.bot.store.watches(ctx.incoming.network, identity):
        if (ref.isdigit() and found.ref == int(ref)) or found.label == f"build {ref}":
            ctx.bot.watcher.remove(found)
            return text(f"Stopped watching {found.label}.")
    return text(f"You are not watching {ref[:60]}; {ctx.prefix}watches lists what you watch.")


@command("watches")
async def watches(ctx):
    """What you are watching, and where each will be reported."""
    identity, _ = whoami(ctx)
    mine = ctx.bot.store.watches(ctx.incoming.network, identity)
    if not mine:
        return text(f"You are not watching anything; {ctx.prefix}watch ID|NVR follows a "
                    "task or build.")
    known = ctx.bot.watcher.watches
    items = [f"{w.label} {root_state(known.get(w.id, w)) or '?'} "
             f"(reported in {w.room or 'a DM'})" for w in mine]
    return text(f"Watching {len(items)}: " + "; ".join(items))
