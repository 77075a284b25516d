"""Koji timestamps as timezone-aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime


def from_ts(value: float | int | None) -> datetime | None:
    """A hub ``*_ts`` field (seconds since the epoch) as an aware UTC datetime."""
    if value is None:
        return None
    return datetime.fromtimestamp(float(value), tz=UTC)


def from_text(value: str | None) -> datetime | None:
    """A hub ``*_time`` string (ISO-like, UTC unless an offset is given) as an aware datetime."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace(" ", "T", 1))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def field(info: dict, name: str) -> datetime | None:
    """``<name>_ts`` if the hub gave it, else ``<name>_time``."""
    ts = info.get(f"{name}_ts")
    if ts is not None:
        return from_ts(ts)
    return from_text(info.get(f"{name}_time"))


def utcnow() -> datetime:
    return datetime.now(UTC)
