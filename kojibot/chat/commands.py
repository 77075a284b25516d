"""Commands are declared once, with a decorator; usage and help come from the signature.

    @command("task")
    async def task(ctx, task_id: Annotated[int, "ID"]):
        '''Show a task: method, package, state, owner, times or ETA, link.'''

    @command("alerts package")
    async def alerts_package(ctx, name: str, *events: Annotated[str, "EVENT"]):
        '''A DM when NAME's builds change state.'''

A name of two words declares a subcommand: commands sharing their first word form a group
(``!alerts on|off|package``), whose usage line lists them all and which may also have a
command of its own for the word alone (``!alerts``).

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
            return f"[{self.label}]" if "..." in self.label else f"[{self.label}...]"
        return f"[{self.label}]" if self.optional else self.label


@dataclass
class Command:
    name: str  # one word, or "group subcommand"
    handler: Callable[..., Awaitable[Any]]
    params: list[Param] = field(default_factory=list)
    help: str = ""
    permission: str = "anyone"  # "anyone", "operator" (room operators and admins), "admin"

    @property
    def arguments(self) -> str:
        """The usage of the arguments alone: ``NAME [EVENT...]``."""
        return " ".join(param.usage() for param in self.params)

    def usage(self, prefix: str) -> str:
        return f"{prefix}{self.name} {self.arguments}".rstrip()

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
    """Declare a command (or, with two words, a subcommand); the plugin loader collects it
    from the plugin module."""
    words = name.lower().split()
    if not 1 <= len(words) <= 2 or not all(word.isidentifier() for word in words):
        raise ValueError(f"command name {name!r}: one word, or a group and a subcommand")

    def declare(handler: Callable) -> Command:
        doc = inspect.getdoc(handler) or ""
        return Command(" ".join(words), handler, _params(handler), doc, permission)
    return declare


@dataclass
class Group:
    """A command word with subcommands, and maybe a command of its own for the word alone."""

    name: str
    subcommands: dict[str, Command] = field(default_factory=dict)
    alone: Command | None = None

    def usage(self, prefix: str) -> str:
        """``!subscribe package|tag|owner NAME [EVENT...]``: subcommands taking the same
        arguments share one alternative."""
        alternatives: dict[str, list[str]] = {}
        for word, sub in self.subcommands.items():
            alternatives.setdefault(sub.arguments, []).append(word)
        return f"{prefix}{self.name} " + " | ".join(
            f"{'|'.join(words)} {arguments}".rstrip() for arguments, words in alternatives.items())

    @property
    def help(self) -> str:
        own = self.alone.help if self.alone else ""
        return f"{own} Subcommands: {', '.join(self.subcommands)}.".strip()

    def resolve(self, words: list[str]) -> tuple[Command, list[str]]:
        """The command *words* (after the group's word) call, and its argument words."""
        if words and words[0].lower() in self.subcommands:
            return self.subcommands[words[0].lower()], words[1:]
        if self.alone is not None and (not words or self.alone.params):
            return self.alone, words
        raise UsageError(f"Unknown {words[0][:20]!r}" if words else "")


@dataclass
class Listener:
    """A handler for lines that are not commands but match ``pattern`` (e.g. pasted kojiweb
    links); a match counts as a command against the sender's rate limit."""

    name: str
    handler: Callable[..., Awaitable[Any]]
    pattern: re.Pattern

    def wants(self, line: str) -> bool:
        return self.pattern.search(line) is not None


def listener(pattern: str | re.Pattern) -> Callable[[Callable], Listener]:
    """Declare a listener for lines that match *pattern* (checked before any hub call)."""
    compiled = re.compile(pattern)

    def declare(handler: Callable) -> Listener:
        return Listener(handler.__name__, handler, compiled)
    return declare


class Registry:
    """The enabled commands (a tree: words, then subcommands) and listeners, collected
    from plugin modules."""

    def __init__(self) -> None:
        self.commands: dict[str, Command | Group] = {}
        self.listeners: list[Listener] = []

    def add_module(self, module: ModuleType) -> None:
        seen: set[int] = set()  # one declaration bound to two names is still one
        for value in vars(module).values():
            if id(value) in seen:
                continue
            seen.add(id(value))
            if isinstance(value, Command):
                self._add(value)
            elif isinstance(value, Listener):
                self.listeners.append(value)

    def _add(self, declared: Command) -> None:
        top, _, sub = declared.name.partition(" ")
        known = self.commands.get(top)
        if not sub and known is None:
            self.commands[top] = declared
            return
        if isinstance(known, Command):  # a word of its own that now gets subcommands
            known = self.commands[top] = Group(top, alone=known)
        group = known if known is not None else self.commands.setdefault(top, Group(top))
        if (sub and sub in group.subcommands) or (not sub and group.alone is not None):
            raise ValueError(f"command {declared.name!r} is declared twice")
        if sub:
            group.subcommands[sub] = declared
        else:
            group.alone = declared

    def get(self, name: str) -> Command | Group | None:
        """A command or group by its word; ``get("alerts package")`` finds a subcommand."""
        top, _, sub = name.lower().partition(" ")
        found = self.commands.get(top)
        if sub:
            return found.subcommands.get(sub) if isinstance(found, Group) else None
        return found

    def names(self) -> list[str]:
        return sorted(self.commands)

    def declared(self) -> list[Command]:
        """Every command, subcommands included, by name."""
        found = []
        for entry in self.commands.values():
            if isinstance(entry, Group):
                found.extend([entry.alone] if entry.alone else [])
                found.extend(entry.subcommands.values())
            else:
                found.append(entry)
        return sorted(found, key=lambda declared: declared.name)
