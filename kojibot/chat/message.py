"""The message model: what the bot says, before any network renders it.

A Message is a sequence of parts: plain text, or a Span with a style. Koji data inside
it is untrusted; each renderer makes it safe for its network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Style = Literal["bold", "state", "link", "code"]


@dataclass(frozen=True)
class Span:
    text: str
    style: Style
    state: str | None = None  # for style "state": a Koji state name, which picks the colour
    url: str | None = None  # for style "link"


Part = str | Span


@dataclass
class Message:
    parts: list[Part] = field(default_factory=list)

    def add(self, *parts: Part | None) -> Message:
        """Append parts (None and empty strings are left out); returns self for chaining."""
        self.parts.extend(part for part in parts if part)
        return self

    def plain(self) -> str:
        return "".join(part if isinstance(part, str) else part.text for part in self.parts)


def text(*parts: Part | None) -> Message:
    return Message().add(*parts)


def bold(value: object) -> Span:
    return Span(str(value), "bold")


def state(name: str | None) -> Span | None:
    return Span(name, "state", state=name) if name else None


def link(url: str | None) -> Span | None:
    return Span(url, "link", url=url) if url else None


def code(value: object) -> Span:
    return Span(str(value), "code")


def to_json(message: Message) -> list:
    """The message as JSON-ready data (for the persisted outbox)."""
    return [part if isinstance(part, str) else
            {"text": part.text, "style": part.style, "state": part.state, "url": part.url}
            for part in message.parts]


def from_json(data: list) -> Message:
    return Message([part if isinstance(part, str) else Span(**part) for part in data])
