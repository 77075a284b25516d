"""!latest TAG PACKAGE — the newest build of a package in a tag."""

from __future__ import annotations

from kojibot.api import bold, command, link, text


@command("latest")
async def latest(ctx, tag: str, package: str):
    """The latest build of PACKAGE in TAG, with its link."""
    koji = ctx.hub.koji
    if await koji.getTag(tag) is None:
        return text(f"No such tag: {tag}")
    builds = await koji.getLatestBuilds(tag, package=package)
    if not builds:
        return text(f"No build of {package} in {tag}")
    build = builds[0]
    return text(bold(build.nvr), f" is the latest {package} in {tag}", " — ", link(build.url))
