"""An exception as one line, for a log line or a refusal: never a traceback, never several
lines."""

from __future__ import annotations


def one_line(exc: BaseException, *, named: bool = True) -> str:
    """The first line of *exc*'s message, after its type's name when *named*; the type's
    name alone when there is no message."""
    message = str(exc).strip()
    first = message.splitlines()[0] if message else ""
    if not first:
        return type(exc).__name__
    return f"{type(exc).__name__}: {first}" if named else first
