"""!why TASK|NVR — why a task or build failed, read from its logs on the hub."""

from __future__ import annotations

from typing import Annotated

from kojibot.api import command


@command("why")
async def why(ctx, ref: Annotated[str, "TASK|NVR"]):
    """Why a task (by id) or a build (by NVR) failed: the decisive log line, the failed
    arch, and the log's link; an unknown shape gives the task's fault string."""
    return await ctx.hub.why(ref)
