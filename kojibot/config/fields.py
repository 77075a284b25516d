"""How a config key is declared: ``setting(default, convert, doc)`` on a section's dataclass
field, the converters that read an INI value, and the problem lines a section reports.

A converter takes the stripped INI text and returns the value or raises ValueError with a
short reason; the line then reads ``section.key: bad value 'text': reason``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Callable
from typing import Any, ClassVar

REQUIRED = dataclasses.MISSING


def setting(default: Any = None, convert: Callable[[str], Any] = str, doc: str = "", *,
            secret: bool = False) -> Any:
    """A config key: its default (``REQUIRED`` for none), how its INI text is read, and a
    one-line description. A ``secret`` stays out of repr (and so of logs)."""
    metadata = {"convert": convert, "doc": doc}
    if default is REQUIRED:
        return dataclasses.field(repr=not secret, metadata=metadata)
    return dataclasses.field(default=default, repr=not secret, metadata=metadata)


class ConfigError(ValueError):
    """One or more configuration problems, one ``section.key: problem`` line each."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


class SectionError(ConfigError):
    """A section's own checks refused it; ``found`` holds the (key, problem) pairs."""

    def __init__(self, section: str, found: list[tuple[str, str]]):
        super().__init__([f"{section}.{key}: {text}" for key, text in found])
        self.found = found


class Section:
    """A config section's dataclass: lists become tuples, then ``problems`` is checked."""

    NAME: ClassVar[str]

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            if isinstance(getattr(self, field.name), list):
                object.__setattr__(self, field.name, tuple(getattr(self, field.name)))
        self.fill()
        found = self.problems()
        if found:
            raise SectionError(self.NAME, found)

    def fill(self) -> None:
        """Set the defaults that depend on other keys."""

    def problems(self) -> list[tuple[str, str]]:
        """(key, problem) for each way the keys are wrong together or alone."""
        return []


def yes_no(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "yes", "true", "on"):
        return True
    if lowered in ("0", "no", "false", "off"):
        return False
    raise ValueError("expected yes or no")


def one_of(*choices: str) -> Callable[[str], str]:
    def convert(value: str) -> str:
        if value.strip().lower() not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return value.strip().lower()
    return convert


def words(value: str) -> tuple[str, ...]:
    """Entries separated by spaces or commas."""
    return tuple(item for item in value.replace(",", " ").split() if item)


def lines(value: str) -> tuple[str, ...]:
    """Entries with spaces in them: separated by commas or new lines."""
    return tuple(item.strip() for item in value.replace(",", "\n").splitlines()
                 if item.strip())


def positive(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def convert(value: str) -> Any:
        try:
            number = kind(value)
        except ValueError:
            raise ValueError("expected a whole number" if kind is int else
                             "expected a number") from None
        if number <= 0:
            raise ValueError("must be greater than zero")
        return number
    return convert


def count(value: str) -> int:
    if not value.isdigit():
        raise ValueError("expected a whole number, 0 or more")
    return int(value)


def port(value: str) -> int:
    number = int(value) if value.isdigit() else 0
    if not 0 < number < 65536:
        raise ValueError("must be a port number (1-65535)")
    return number


def lease(value: str) -> float:
    seconds = positive(float)(value)
    if seconds < 2:
        raise ValueError("must be 2 seconds or more")
    return seconds


def listen(value: str) -> tuple[str, int]:
    """``ADDRESS:PORT`` (an IP address; IPv6 in brackets) or a bare port on loopback."""
    host, _, number = value.rpartition(":")
    try:
        address = ipaddress.ip_address(host.removeprefix("[").removesuffix("]") or "127.0.0.1")
        if isinstance(address, ipaddress.IPv6Address) != host.startswith("["):
            raise ValueError
        return str(address), port(number)
    except ValueError:
        raise ValueError("expected ADDRESS:PORT with an IP address, e.g. 127.0.0.1:9180") \
            from None


def prefix(value: str) -> str:
    if not value or any(ch.isspace() or ch.isalnum() for ch in value):
        raise ValueError("must be one or more punctuation characters, e.g. !")
    return value


def http_url(value: str) -> str:
    if not re.match(r"https?://[^/\s]+", value):
        raise ValueError("expected an http:// or https:// URL")
    return value.rstrip("/")
