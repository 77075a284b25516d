"""The bot's INI configuration, checked all at once, every problem one line.

One dataclass per section (kojibot.config.core, .irc, .matrix, .amqp) declares each key
with ``setting(default, convert, doc)``; ``parse`` reads an INI into a ``Config`` of them or
raises ConfigError whose lines name ``section.key``. ``bot.example.ini`` shows every key
with its default (a test holds them together). ``kojibot.settings`` then checks what needs
files or imports (plugins, state, certificates); ``kojibot check-config`` and start-up
both run both.

To add a key: a field on its section's dataclass, ``name: type = setting(default, convert,
"one-line doc")`` (``REQUIRED`` for no default, ``secret=True`` to keep it out of repr), a
check that involves other keys in that class's ``problems``, and the key in bot.example.ini,
commented out with its default. A new section: a ``Section`` dataclass with ``NAME``, a
field of ``Config`` and an entry in ``SECTIONS``.
"""

from __future__ import annotations

import configparser
import dataclasses
from dataclasses import dataclass
from typing import Any

from kojibot.config.amqp import AMQPSettings
from kojibot.config.core import BotSettings, KojiSettings, MetricsSettings, default_state_path
from kojibot.config.fields import ConfigError, Section, SectionError
from kojibot.config.irc import IRCSettings
from kojibot.config.matrix import MatrixSettings

__all__ = [
    "SECTIONS",
    "AMQPSettings",
    "BotSettings",
    "Config",
    "ConfigError",
    "IRCSettings",
    "KojiSettings",
    "MatrixSettings",
    "MetricsSettings",
    "default_state_path",
    "defaults",
    "load",
    "parse",
    "read",
    "read_file",
]

_NO_LOGIN = ("kojibot only reads from the hub and never logs in (Koji answers reads "
             "anonymously): remove this key")
# Keys that are gone, and the one line check-config says about each.
RETIRED = {
    ("matrix", "trusted_devices"): "replaced by matrix.trusted_identities (people are "
    "trusted by their cross-signing identity: @user:server, optionally followed by the "
    "master key)",
    **{("koji", key): _NO_LOGIN for key in ("authtype", "cert", "user", "password",
                                             "principal")},
}


@dataclass(frozen=True)
class Config:
    """The parsed INI: ``bot`` and ``koji`` always; the others None when left out."""

    bot: BotSettings
    koji: KojiSettings
    irc: IRCSettings | None = None
    matrix: MatrixSettings | None = None
    amqp: AMQPSettings | None = None
    metrics: MetricsSettings | None = None


SECTIONS: dict[str, type[Section]] = {
    "bot": BotSettings, "koji": KojiSettings, "irc": IRCSettings, "matrix": MatrixSettings,
    "amqp": AMQPSettings, "metrics": MetricsSettings}
_ALWAYS = ("bot", "koji")


def parse(text: str, source: str = "<config>") -> Config:
    """Read ``text``; raise ConfigError listing every problem."""
    config, problems = read(text, source)
    if problems:
        raise ConfigError(problems)
    return config


def read(text: str, source: str = "<config>") -> tuple[Config, list[str]]:
    """Every section that reads well, and the problem lines of the others (which are None,
    so that start-up's checks of the rest still run and all problems are told at once)."""
    parser = configparser.RawConfigParser(default_section="__none__")
    try:
        parser.read_string(text, source=source)
    except configparser.Error as exc:
        return Config(None, None), [str(exc).splitlines()[0]]  # type: ignore[arg-type]
    problems = [f"{section}: unknown section (known: {', '.join(SECTIONS)})"
                for section in parser.sections() if section not in SECTIONS]
    sections: dict[str, Any] = {}
    for name, cls in SECTIONS.items():
        if parser.has_section(name) or name in _ALWAYS:
            given = dict(parser.items(name)) if parser.has_section(name) else {}
            sections[name] = _section(cls, given, sections, problems)
    return Config(**sections), problems


def _section(cls: type[Section], given: dict[str, str], done: dict[str, Any],
             problems: list[str]) -> Any:
    """``cls`` from the INI keys ``given``; None (and lines in ``problems``) if refused.
    A required key that is missing is None while the section's own checks run."""
    name = cls.NAME
    fields = {field.name: field for field in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    found = [f"{name}.{key}: {RETIRED.get((name, key), 'unknown key')}"
             for key in given if key not in fields]
    failed = set()
    for key, field in fields.items():
        raw = given.get(key, "").strip()
        if not raw:
            if field.default is dataclasses.MISSING:
                found.append(f"{name}.{key}: required key is missing")
                failed.add(key)
                values[key] = None
            continue
        try:
            values[key] = field.metadata["convert"](raw)
        except ValueError as exc:
            found.append(f"{name}.{key}: bad value {raw!r}: {exc}")
            failed.add(key)
            if field.default is dataclasses.MISSING:
                values[key] = None
    renames = {}
    for key, (section, other) in getattr(cls, "INHERITS", {}).items():
        if key not in values and done.get(section) is not None:
            values[key] = getattr(done[section], other)
            renames[key] = f"{section}.{other}"
    made = None
    try:
        made = cls(**values)  # with defaults in place of the bad keys: the other checks
    except SectionError as exc:
        found += [f"{renames.get(key, f'{name}.{key}')}: {text}"
                  for key, text in exc.found if key not in failed]
    problems.extend(found)
    return made if not found else None


def load(path: str) -> Config:
    config, problems = read_file(path)
    if problems:
        raise ConfigError(problems)
    return config


def read_file(path: str) -> tuple[Config, list[str]]:
    """``read`` of the file at ``path``."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ConfigError([f"cannot read: {exc.strerror}"]) from None
    except UnicodeDecodeError:
        raise ConfigError(["not UTF-8 text"]) from None
    return read(text, source=path)


def defaults() -> Config:
    """The embedded default: console chat, SQLite state, Fedora's public hub."""
    return parse("")
