"""!alerts — a DM when your builds (or a package's builds) change state."""

from __future__ import annotations

from typing import Annotated

from kojibot.alerts import DEFAULT_EVENTS, EVENTS
from kojibot.commands import command
from kojibot.message import text
from kojibot.store import Alert
from kojibot.plugins.iam import whoami

USAGE = "on [EVENT...] | off | package NAME [EVENT...|off]"


class _Problem(Exception):
    pass


def _events(words: tuple[str, ...]) -> frozenset[str]:
    wanted = {word.lower() for word in words}
    if "all" in wanted:
        return frozenset(EVENTS)
    unknown = sorted(wanted - set(EVENTS))
    if unknown:
        raise _Problem(f"Unknown event {unknown[0][:20]!r}: use {', '.join(EVENTS)} or all.")
    return frozenset(wanted or DEFAULT_EVENTS)


def _describe(alert: Alert, koji_user: str | None) -> str:
    events = " ".join(sorted(alert.events))
    if alert.kind == "owner":
        return f"builds of {koji_user or '(no Koji user linked)'} ({events})"
    return f"package {alert.pattern} ({events})"


@command("alerts")
async def alerts(ctx, *words: Annotated[str, "on|off|package"]):
    """Get a DM when builds change state. on [EVENT...]: your builds (link your Koji user
    with !iam first); package NAME [EVENT...]: a package's builds (NAME may be a glob);
    off: stop all; package NAME off: stop one. EVENT: started, complete, failed, canceled,
    deleted or all (default: complete failed). Without words: your alerts."""
    store, incoming = ctx.bot.store, ctx.incoming
    identity, _ = whoami(ctx)
    person = store.person(incoming.network, identity)
    koji_user = person.koji_user if person else None
    action = words[0].lower() if words else ""
    try:
        answer = _change(ctx, identity, koji_user, action, words[1:])
    except _Problem as exc:
        return text(str(exc))
    ctx.bot.alerts.reload(incoming.network, identity)
    return text(answer)


def _change(ctx, identity: str, koji_user: str | None, action: str,
            rest: tuple[str, ...]) -> str:
    store, network = ctx.bot.store, ctx.incoming.network
    if action == "":
        current = store.alerts(network, identity)
        if not current:
            return f"You have no alerts. Usage: {ctx.prefix}alerts {USAGE}"
        return "Your DM alerts: " + "; ".join(_describe(a, koji_user) for a in current)
    if action == "on":
        if not koji_user:
            raise _Problem(f"First link your Koji user: {ctx.prefix}iam KOJIUSER")
        alert = Alert(network, identity, "owner", "", _events(rest))
        store.set_alert(alert)
        return f"Alerts on: a DM for {_describe(alert, koji_user)}."
    if action == "off":
        if rest:
            raise _Problem(f"Usage: {ctx.prefix}alerts {USAGE}")
        removed = store.remove_alerts(network, identity)
        return f"Alerts off ({removed} removed)." if removed else "You had no alerts."
    if action == "package":
        if not rest:
            raise _Problem(f"missing NAME. Usage: {ctx.prefix}alerts {USAGE}")
        name, events = rest[0], rest[1:]
        if [word.lower() for word in events] == ["off"]:
            if not store.remove_alerts(network, identity, "package", name):
                raise _Problem(f"You have no alert for package {name[:40]}.")
            return f"Alert off: package {name[:40]}."
        alert = Alert(network, identity, "package", name, _events(events))
        store.set_alert(alert)
        return f"Alert on: a DM for {_describe(alert, koji_user)}."
    raise _Problem(f"Unknown {action[:20]!r}. Usage: {ctx.prefix}alerts {USAGE}")
