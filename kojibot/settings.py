"""What start-up runs on, checked: the parsed config turned into the objects the bot is
built from — the hub Connection, the plugin registry, the state path, IRCSettings,
MatrixSettings and AMQPSettings.

``kojibot check-config`` and start-up both call ``load``, so whatever one refuses the other
refuses, in the same ``section.key: problem`` lines. Nothing here connects anywhere or
starts anything; files named in the config (certificates, the state database) are read.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, TypeVar
from urllib.parse import quote

import txkoji
from kojibot import config
from kojibot.adapters.irc import options as irc_options
from kojibot.adapters.irc.options import IRCSettings
from kojibot.adapters.matrix.rooms import MatrixSettings
from kojibot.bus.broker import AMQPSettings
from kojibot.bus.broker import tls_options as amqp_tls_options
from kojibot.chat.commands import Registry
from kojibot.config import ConfigError
from kojibot.errortext import one_line
from kojibot.loader import PluginError, load_plugins
from kojibot.state.backends import CONNECT_TIMEOUT, error_line, is_postgresql
from txkoji.auth import choose_authtype
from txkoji.exceptions import LoginNotSupported, ProfileError

__all__ = ["Settings", "amqp_settings", "build", "irc_settings", "koji_connection", "load",
           "matrix_settings"]

T = TypeVar("T")

# The optional parts, the module start-up imports for each, and the extra that brings it.
EXTRAS = {"matrix": ("kojibot.adapters.matrix.homeserver", "matrix-nio"),
          "amqp": ("kojibot.bus.consumer", "the AMQP client")}
# Words the settings classes' messages begin with that are not the key's own name.
_ALIASES = {"irc": {"channel": "channels"}}


@dataclass(frozen=True)
class Settings:
    """Everything the bot is built from, checked. ``config`` is the parsed INI."""

    config: SimpleNamespace
    koji: txkoji.Connection
    registry: Registry
    state: str
    irc: IRCSettings | None = None
    matrix: MatrixSettings | None = None
    amqp: AMQPSettings | None = None


def load(path: str | None, *, reactor=None) -> Settings:
    """The checked settings of the INI file at ``path`` (None: the embedded defaults)."""
    return build(config.load(path) if path else config.defaults(), reactor=reactor)


def build(parsed: SimpleNamespace, *, reactor=None, koji: Any = None) -> Settings:
    """Build what start-up needs from ``config.parse``'s result; ConfigError lists every
    problem. ``koji``, if given, stands in for the hub connection (tests)."""
    problems: list[str] = []

    def part(make: Callable[[], T], lines: Callable[[Exception], list[str]]) -> T | None:
        try:
            return make()
        except ConfigError as exc:
            problems.extend(exc.problems)
        except Exception as exc:  # noqa: BLE001 - any refusal becomes its config lines
            problems.extend(lines(exc))
        return None

    bot = parsed.bot
    registry = part(lambda: load_plugins(bot.plugins),
                    lambda exc: [str(exc) if isinstance(exc, PluginError)
                                 else f"bot.plugins: {one_line(exc, named=False)}"])
    part(lambda: _check_state(bot.state), lambda exc: [f"bot.state: {one_line(exc, named=False)}"])
    if koji is None:
        koji = part(lambda: koji_connection(parsed.koji, reactor=reactor),
                    lambda exc: _koji_lines(parsed.koji, exc))
    irc = None
    if parsed.irc is not None:
        renames = {"irc.nick": "bot.nick"} if parsed.irc.nick == bot.nick else {}
        irc = part(lambda: _checked_irc(parsed.irc),
                   lambda exc: _lines("irc", exc, IRCSettings, renames))
    matrix = amqp = None
    if parsed.matrix is not None:
        matrix = part(lambda: matrix_settings(parsed.matrix),
                      lambda exc: _lines("matrix", exc, MatrixSettings))
        part(lambda: _importable("matrix"), lambda exc: [one_line(exc, named=False)])
    if parsed.amqp is not None:
        amqp = part(lambda: _checked_amqp(parsed.amqp),
                    lambda exc: _lines("amqp", exc, AMQPSettings))
        part(lambda: _importable("amqp"), lambda exc: [one_line(exc, named=False)])
    if problems:
        raise ConfigError(problems)
    return Settings(parsed, koji, registry, bot.state, irc, matrix, amqp)


def _from_section(cls: type[T], section: SimpleNamespace) -> T:
    """``cls`` from the section's keys that are its fields; unset keys keep cls's defaults."""
    fields = {field.name for field in dataclasses.fields(cls)}
    return cls(**{key: tuple(value) if isinstance(value, list) else value
                  for key, value in vars(section).items()
                  if key in fields and value is not None})


def irc_settings(section: SimpleNamespace) -> IRCSettings:
    """``[irc]`` as the adapter takes it; ValueError (one line) if it is refused."""
    return _from_section(IRCSettings, section)


def matrix_settings(section: SimpleNamespace) -> MatrixSettings:
    """``[matrix]`` as the adapter takes it (checked by kojibot.config)."""
    return _from_section(MatrixSettings, section)


def amqp_settings(section: SimpleNamespace) -> AMQPSettings:
    """``[amqp]`` as the consumer takes it; ValueError (one line) if it is refused."""
    return _from_section(AMQPSettings, section)


def koji_connection(section: SimpleNamespace, *, reactor=None) -> txkoji.Connection:
    """The hub connection from ``[koji]``: a profile, or explicit keys, or Fedora's hub.
    Its files (profile, cert, serverca) are read now; nothing is sent."""
    keys = {key: value for key, value in vars(section).items()
            if key != "profile" and value is not None}
    connection = txkoji.Connection(section.profile, reactor=reactor, **keys)
    if connection.settings.get("authtype"):
        choose_authtype(connection.settings)  # a login that could never work
    return connection


def _checked_irc(section: SimpleNamespace) -> IRCSettings:
    settings = irc_settings(section)
    if settings.tls:
        irc_options.tls_options(settings)  # reads tls_ca, tls_cert and tls_key, as connecting will
    return settings


def _checked_amqp(section: SimpleNamespace) -> AMQPSettings:
    settings = amqp_settings(section)
    if settings.broker.tls:
        amqp_tls_options(settings, settings.broker)  # loads ca, cert and key
    return settings


def _importable(section: str) -> None:
    module, what = EXTRAS[section]
    try:
        importlib.import_module(module)
    except ImportError as exc:
        if exc.name is None or exc.name.startswith("kojibot"):
            why = one_line(exc, named=False)
            raise ConfigError([f"{section}: {module} cannot be imported: {why}"]) from None
        raise ConfigError([f"{section}: needs {what} ({exc.name} is not installed): "
                           f"pip install 'kojibot[{section}]'"]) from None


def _check_state(path: str) -> None:
    """Refuse a state path the store could not open, without creating anything."""
    if path == ":memory:":
        return
    if is_postgresql(path):
        _check_postgresql(path)
        return
    full = os.path.expanduser(path)
    if os.path.isdir(full):
        raise ValueError(f"{path} is a directory")
    if os.path.exists(full):
        if not os.access(full, os.R_OK | os.W_OK):
            raise ValueError(f"{path} is not readable and writable")
        try:
            db = sqlite3.connect(f"file:{quote(os.path.abspath(full))}?mode=ro", uri=True)
            try:
                db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            finally:
                db.close()
        except sqlite3.Error as exc:
            raise ValueError(f"{path}: {exc}") from None
        return
    parent = os.path.dirname(full) or "."
    while not os.path.exists(parent):
        parent = os.path.dirname(parent) or "."
    if not os.path.isdir(parent):
        raise ValueError(f"cannot create {path}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"cannot create {path}: {parent} is not writable")


def _check_postgresql(url: str) -> None:
    """Refuse a PostgreSQL URL that libpq cannot parse or whose database does not answer."""
    try:
        import psycopg
    except ImportError:
        raise ValueError("a postgresql:// state needs psycopg: "
                         "pip install 'kojibot[postgresql]'") from None
    try:
        psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error as exc:
        raise ValueError("not a PostgreSQL URL: "
                         + error_line(exc).replace(url, "the URL")) from None
    try:
        with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT) as db:
            version = db.info.server_version
    except psycopg.Error as exc:
        raise ValueError(f"cannot reach the database: {error_line(exc)}") from None
    if version < 140000:  # the lease needs idle_session_timeout
        raise ValueError(f"needs PostgreSQL 14 or later; the server runs {version // 10000}")


def _koji_lines(section: SimpleNamespace, exc: Exception) -> list[str]:
    message = one_line(exc, named=False)
    if isinstance(exc, LoginNotSupported):
        key = "authtype"
    elif isinstance(exc, ProfileError):
        key = "profile"
    else:
        named = [key for key in ("serverca", "cert") if re.search(rf"\b{key}\b", message)]
        key = named[0] if named else ("profile" if section.profile else "server")
    return [f"koji.{key}: {message}"]


def _lines(section: str, exc: Exception, cls: type, renames: dict[str, str] | None = None,
           ) -> list[str]:
    """A settings class's refusal (``[irc] port 0 is not a TCP port; nick ...``) as
    ``section.key: problem`` lines, one per problem."""
    text = one_line(exc, named=False).removeprefix(f"[{section}]").strip()
    words = {field.name: field.name for field in dataclasses.fields(cls)}
    words.update(_ALIASES.get(section, {}))
    lines = []
    for problem in text.split("; "):
        first = re.match(r"\w+", problem)
        key = words.get(first.group()) if first else None
        if key is None:
            lines.append(f"{section}: {problem}")
            continue
        name = (renames or {}).get(f"{section}.{key}", f"{section}.{key}")
        rest = problem[first.end():]
        lines.append(f"{name}{rest}" if rest.startswith(":") else f"{name}: {problem}")
    return lines

