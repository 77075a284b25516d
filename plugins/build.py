"""!build NVR|ID — one line about a Koji build."""

from __future__ import annotations

from typing import Annotated

from kojibot.api import command


@command("build")
async def build(ctx, ref: Annotated[str, "NVR|ID"]):
    """Show a build: state, owner, task, tags, start and completion, duration or ETA, link."""
    return await ctx.hub.build(int(ref) if ref.isdigit() else ref)
