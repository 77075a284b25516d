"""!alerts — a DM when your builds (or a package's builds) change state."""

from __future__ import annotations

from typing import Annotated

from kojibot.api import Alert, Context, command, text

EVENT_HELP = "EVENT: started, complete, failed, canceled, deleted or all (default: complete " \
             "failed)."


def _describe(alert: Alert, koji_user: str | None) -> str:
    events = " ".join(sorted(alert.events))
    if alert.kind == "owner":
        return f"builds of {koji_user or '(no Koji user linked)'} ({events})"
    if alert.kind == "mine":
        return f"builds of packages {koji_user or '(no Koji user linked)'} owns ({events})"
    if alert.kind == "koji":
        return f"builds {koji_user or '(no Koji user linked)'} has Koji notifications for"
    if alert.kind == "buildroot":
        return f"builds of {koji_user or '(no Koji user linked)'} in their target's buildroot"
    return f"package {alert.pattern} ({events})"


@command("alerts")
async def alerts(ctx: Context):
    """Get a DM when builds change state; alone: your alerts."""
    current = ctx.alerts.current()
    if not current:
        return text(f"You have no alerts. Usage: {ctx.commands.get('alerts').usage(ctx.prefix)}")
    koji_user = ctx.identity.koji_user()
    return text("Your DM alerts: " + "; ".join(_describe(a, koji_user) for a in current))


@command("alerts on")
async def alerts_on(ctx: Context, *events: Annotated[str, "EVENT"]):
    """A DM when your builds change state (link your Koji user with !iam first)."""
    koji_user = ctx.identity.koji_user()
    if not koji_user:
        return text(f"First link your Koji user: {ctx.prefix}iam KOJIUSER")
    try:
        wanted = ctx.alerts.events("owner", events)
    except ValueError as exc:
        return text(str(exc))
    alert = await ctx.alerts.set("owner", "", wanted)
    return text(f"Alerts on: a DM for {_describe(alert, koji_user)}.")


@command("alerts off")
async def alerts_off(ctx: Context):
    """Stop all your alerts."""
    removed = await ctx.alerts.remove()
    return text(f"Alerts off ({removed} removed)." if removed else "You had no alerts.")


@command("alerts package")
async def alerts_package(ctx: Context, name: str, *events: Annotated[str, "EVENT...|off"]):
    """A DM when package NAME's builds change state (NAME may be a glob); add not-mine to
    leave out your own builds; NAME off stops it."""
    if [word.lower() for word in events] == ["off"]:
        if not await ctx.alerts.remove("package", name):
            return text(f"You have no alert for package {name[:40]}.")
        return text(f"Alert off: package {name[:40]}.")
    try:
        wanted = ctx.alerts.events("package", events)
    except ValueError as exc:
        return text(str(exc))
    alert = await ctx.alerts.set("package", name, wanted)
    return text(f"Alert on: a DM for {_describe(alert, ctx.identity.koji_user())}.")


@command("alerts buildroot")
async def alerts_buildroot(ctx: Context, off: Annotated[str, "off"] = ""):
    """A DM when each of your completed builds is in its target's buildroot (a repo of the
    build tag made after the tagging is done); off stops it."""
    if off.lower() == "off":
        if not await ctx.alerts.remove("buildroot", ""):
            return text("You have no buildroot alert.")
        return text("Alert off: buildroot.")
    if off:
        return text(f"Usage: {ctx.commands.get('alerts buildroot').usage(ctx.prefix)}")
    koji_user = ctx.identity.koji_user()
    if not koji_user:
        return text(f"First link your Koji user: {ctx.prefix}iam KOJIUSER")
    alert = await ctx.alerts.set("buildroot", "", frozenset({"complete"}))
    return text(f"Alert on: a DM for {_describe(alert, koji_user)}.")


async def _from_hub(ctx: Context, kind: str, events: tuple[str, ...]):
    if [word.lower() for word in events] == ["off"]:
        if not await ctx.alerts.remove(kind, ""):
            return text(f"You have no {kind} alert.")
        return text(f"Alert off: {kind}.")
    koji_user = ctx.identity.koji_user()
    if not koji_user:
        return text(f"First link your Koji user: {ctx.prefix}iam KOJIUSER")
    try:
        wanted = ctx.alerts.events("owner", events) if kind == "mine" else frozenset()
    except ValueError as exc:
        return text(str(exc))
    alert = await ctx.alerts.set(kind, "", wanted)
    return text(f"Alert on: a DM for {_describe(alert, koji_user)}.")


@command("alerts mine")
async def alerts_mine(ctx: Context, *events: Annotated[str, "EVENT...|off"]):
    """A DM when a package your Koji user owns in a Koji package list builds (the list is
    read from the hub hourly and when it changes); off stops it."""
    return await _from_hub(ctx, "mine", events)


@command("alerts koji")
async def alerts_koji(ctx: Context, off: Annotated[str, "off"] = ""):
    """Your Koji build notifications (koji add-notification) as DMs: the package's builds
    that end (only complete ones where success only); off stops it."""
    if off and off.lower() != "off":
        return text(f"Usage: {ctx.commands.get('alerts koji').usage(ctx.prefix)}")
    return await _from_hub(ctx, "koji", (off,) if off else ())


for _declared in (alerts_on, alerts_package, alerts_mine):
    _declared.help += " " + EVENT_HELP
