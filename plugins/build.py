"""!build NVR|ID — one line about a Koji build."""

from __future__ import annotations

from typing import Annotated

from kojibot.commands import command
from kojibot.describe import build_line
from kojibot.message import Message, text
from txkoji import estimates
from txkoji.states import BuildState
from txkoji.times import utcnow


async def build_answer(koji, ref: int | str) -> Message:
    """The build's line; shared with pasted kojiweb links and watches."""
    multicall = koji.MultiCall()
    multicall.getBuild(ref)
    multicall.listTags(build=ref)
    results = await multicall()
    build = results[0]
    if build is None:
        return text(f"No such build: {ref}")
    tags = results[1]
    eta = None
    if build.get("state") == BuildState.BUILDING:
        eta = await estimates.estimate_completion(koji, build)
    return build_line(build, sorted(tag["name"] for tag in tags), eta, utcnow())


@command("build")
async def build(ctx, ref: Annotated[str, "NVR|ID"]):
    """Show a build: state, owner, task, tags, start and completion, duration or ETA, link."""
    return await build_answer(ctx.koji, int(ref) if ref.isdigit() else ref)
