"""!eta PACKAGE — how long its builds take, and when the running ones should end."""

from __future__ import annotations

from kojibot.api import bold, command, link, text, timefmt
from txkoji import estimates
from txkoji.states import BuildState
from txkoji.times import utcnow

SHOWN = 5


@command("eta")
async def eta(ctx, package: str):
    """Average build duration of PACKAGE, and the expected end of each running build."""
    koji = ctx.hub.koji
    if await koji.getPackageID(package) is None:
        return text(f"No such package: {package}")
    average = await estimates.average_build_duration(koji, package)
    running = await koji.listBuilds(packageID=package, state=int(BuildState.BUILDING))
    message = text(bold(package), ": ")
    if average is None:
        message.add("no completed build to average")
    else:
        message.add(f"average build {timefmt.duration(average)}")
    if not running:
        return message.add("; nothing building now")
    now = utcnow()
    message.add(f"; {len(running)} building:")
    for build in running[:SHOWN]:
        expected = await estimates.estimate_completion(koji, build, now=now)
        when = f"ETA {timefmt.moment(expected)} ({timefmt.relative(expected, now)})" \
            if expected else "no ETA"
        message.add(f" {build.nvr} {when}", " ", link(build.url), ";")
    if len(running) > SHOWN:
        message.add(f" +{len(running) - SHOWN} more")
    return message
