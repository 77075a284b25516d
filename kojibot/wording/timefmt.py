"""Short human forms of times and durations for chat lines (always UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def duration(value: timedelta | None) -> str:
    """``45s``, ``12m 05s``, ``1h 05m``, ``2d 3h``."""
    if value is None:
        return "?"
    seconds = int(abs(value.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def moment(value: datetime | None) -> str:
    """``2026-01-05 10:00 UTC``."""
    if value is None:
        return "?"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def clock(value: datetime, now: datetime) -> str:
    """``10:45 UTC`` on *now*'s day, else the whole ``moment``."""
    if value.astimezone(UTC).date() == now.astimezone(UTC).date():
        return value.astimezone(UTC).strftime("%H:%M UTC")
    return moment(value)


def relative(value: datetime, now: datetime) -> str:
    """``in 12m 05s`` or ``12m 05s overdue``."""
    delta = value - now
    if delta >= timedelta():
        return f"in {duration(delta)}"
    return f"{duration(delta)} overdue"
