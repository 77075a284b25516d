"""Commands are declared once, with a decorator; usage and help come from the signature.

    @command("task")
    async def task(ctx, task_id: Annotated[int, "ID"]):
        '''Show a task: method, package, state, owner, times or ETA, link.'''

Parameters after ``ctx`` are the arguments: the annotation's type converts the word
(int or str), the Annotated label names it in the usage line, a default makes it
optional, ``*rest`` takes the remaining words (none or more). Parsing never raises anything but
UsageError.

Chat text is untrusted and goes on to the hub, so every word is checked before any handler
runs: at most MAX_WORD characters, no control characters (XML-RPC cannot carry them), and a
word of digits must be a Koji id, at most I8_MAX (ints travel as ``<i8>``). An int argument is
such an id, 1 or more.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from txkoji.rpc import I8_MAX

MAX_WORD = 255  # characters in one argument: far above any NVR, tag, package or user name
# C0 and C1 controls, DEL, lone surrogates and U+FFFE/U+FFFF: not text, and not valid XML.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


class UsageError(Exception):
    """The words do not fit the command's arguments."""


@dataclass(frozen=True)
class Param:
    name: str
    label: str
    convert: Callable[[str], Any]
    optional: bool = False
    rest: bool = False

    def usage(self) -> str:
        if self.rest:
            return f"[{self.label}...]"
        return f"[{self.label}]" if self.optional else self.label


@dataclass
class Command:
    name: str
    handler: Callable[..., Awaitable[Any]]
    params: list[Param] = field(default_factory=list)
    help: str = ""
    permission: str = "anyone"  # "anyone", "operator" (room operators and admins), "admin"

    def usage(self, prefix: str) -> str:
        words = [f"{prefix}{self.name}", *(param.usage() for param in self.params)]
        return " ".join(words)

    def parse(self, words: list[str]) -> list[Any]:
        """The handler's arguments for ``words``, or UsageError."""
        values: list[Any] = []
        for index, param in enumerate(self.params):
            if param.rest:
                values.extend(_convert(param, word) for word in words[index:])
                return values
            if index >= len(words):
                if param.optional:
                    return values
                raise UsageError(f"missing {param.label}")
            values.append(_convert(param, words[index]))
        if len(words) > len(self.params):
            raise UsageError("too many arguments")
        return values


def _convert(param: Param, word: str) -> Any:
    check_word(param.label, word)
    try:
        return param.convert(word)
    except (ValueError, TypeError):
        if param.convert is _koji_id and word.isdigit():
            raise _not_an_id(param.label, word) from None
        kind = "a number" if param.convert is _koji_id else "valid"
        raise UsageError(f"{param.label} must be {kind}, not {word[:40]!r}") from None


def check_word(label: str, word: str) -> None:
    """UsageError unless ``word`` is fit to send to the hub (see the module docstring)."""
    if len(word) > MAX_WORD:
        raise UsageError(f"{label} is too long ({len(word)} characters, at most {MAX_WORD})")
    unsafe = _UNSAFE.search(word)
    if unsafe:
        raise UsageError(f"{label} must not contain control characters "
                         f"(found U+{ord(unsafe.group()):04X})")
    if word.isdigit() and not (word.isascii() and int(word) <= I8_MAX):
        raise _not_an_id(label, word)


def _not_an_id(label: str, word: str) -> UsageError:
    shown = word if len(word) <= 30 else word[:27] + "..."
    return UsageError(f"{label} {shown} is not a Koji id (1 to {I8_MAX})")


def _koji_id(word: str) -> int:
    if not (word.isascii() and word.isdigit() and 0 < int(word) <= I8_MAX):
        raise ValueError(word)
    return int(word)


def _params(handler: Callable) -> list[Param]:
    hints = typing.get_type_hints(handler, include_extras=True)
    params = []
    for parameter in list(inspect.signature(handler).parameters.values())[1:]:
        hint = hints.get(parameter.name, str)
        label = parameter.name.upper()
        if typing.get_origin(hint) is typing.Annotated:
            hint, label = typing.get_args(hint)[0], typing.get_args(hint)[1]
        convert = _koji_id if hint is int else str
        rest = parameter.kind is inspect.Parameter.VAR_POSITIONAL
        optional = parameter.default is not inspect.Parameter.empty
        params.append(Param(parameter.name, label, convert, optional, rest))
    return params


def command(name: str, *, permission: str = "anyone") -> Callable[[Callable], Command]:
    """Declare a command; the plugin loader collects it from the plugin module."""
    def declare(handler: Callable) -> Command:
        doc = inspect.getdoc(handler) or ""
        return Command(name, handler, _params(handler), doc, permission)
    return declare


@dataclass
class Listener:
    """A handler for lines that are not commands (e.g. pasted kojiweb links)."""

    name: str
    handler: Callable[..., Awaitable[Any]]


def listener(handler: Callable) -> Listener:
    return Listener(handler.__name__, handler)


class Registry:
    """The enabled commands and listeners, collected from plugin modules."""

    def __init__(self) -> None:
        self.commands: dict[str, Command] = {}
        self.listeners: list[Listener] = []

    def add_module(self, module: ModuleType) -> None:
        for value in vars(module).values():
            if isinstance(value, Command):
                if value.name in self.commands:
                    raise ValueError(f"command {value.name!r} is declared twice")
                self.commands[value.name] = value
            elif isinstance(value, Listener):
                self.listeners.append(value)

    def get(self, name: str) -> Command | None:
        return self.commands.get(name.lower())

    def names(self) -> list[str]:
        return sorted(self.commands)
