"""!task ID — one line about a Koji task."""

from __future__ import annotations

from typing import Annotated

from kojibot.api import command


@command("task")
async def task(ctx, task_id: Annotated[int, "ID"]):
    """Show a task: method, package, arch, state, owner, times or ETA, and its kojiweb link."""
    return await ctx.hub.task(task_id)
