"""What start-up runs on, checked: the parsed config turned into the objects the bot is
built from — the hub Connection, the plugin registry, the state path, IRCSettings,
MatrixSettings and AMQPSettings.

``kojibot check-config`` and start-up both call ``load``, so whatever one refuses the other
refuses, in the same ``section.key: problem`` lines. Nothing here connects anywhere or
starts anything; files named in the config (certificates, the state database) are read.
"""

from __future__ import annotations

import importlib
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import txkoji
from kojibot import config
from kojibot.adapters.irc import options as irc_options
from kojibot.bus.broker import tls_options as amqp_tls_options
from kojibot.chat.commands import Registry
from kojibot.config import (
    AMQPSettings,
    Config,
    ConfigError,
    IRCSettings,
    KojiSettings,
    MatrixSettings,
)
from kojibot.errortext import one_line
from kojibot.loader import PluginError, load_plugins
from kojibot.state.backends import CONNECT_TIMEOUT, error_line, is_postgresql
from txkoji.exceptions import ProfileError

__all__ = ["Settings", "build", "koji_connection", "load"]

T = TypeVar("T")

# The optional parts, the module start-up imports for each, and the extra that brings it.
EXTRAS = {"matrix": ("kojibot.adapters.matrix.homeserver", "matrix-nio"),
          "amqp": ("kojibot.bus.consumer", "the AMQP client")}


@dataclass(frozen=True)
class Settings:
    """Everything the bot is built from, checked. ``config`` is the parsed INI."""

    config: Config
    koji: txkoji.Connection
    registry: Registry
    state: str
    irc: IRCSettings | None = None
    matrix: MatrixSettings | None = None
    amqp: AMQPSettings | None = None


def load(path: str | None, *, reactor=None) -> Settings:
    """The checked settings of the INI file at ``path`` (None: the embedded defaults)."""
    parsed, problems = config.read_file(path) if path else config.read("")
    return build(parsed, reactor=reactor, problems=problems)


def build(parsed: Config, *, reactor=None, koji: Any = None,
          problems: list[str] | None = None) -> Settings:
    """Check what ``parsed`` names (plugins, state, hub profile, certificates, extras) and
    build what start-up needs; ConfigError lists every problem, ``problems`` (those
    ``config.read`` found; their sections are None) first. ``koji``, if given, stands in
    for the hub connection (tests)."""
    problems = list(problems or [])

    def part(make: Callable[[], T], line: Callable[[Exception], str]) -> T | None:
        try:
            return make()
        except ConfigError as exc:
            problems.extend(exc.problems)
        except Exception as exc:  # noqa: BLE001 - any refusal becomes its config line
            problems.append(line(exc))
        return None

    bot = parsed.bot
    registry = state = None
    if bot is not None:
        registry = part(lambda: load_plugins(bot.plugins),
                        lambda exc: str(exc) if isinstance(exc, PluginError)
                        else f"bot.plugins: {one_line(exc, named=False)}")
        part(lambda: _check_state(bot.state),
             lambda exc: f"bot.state: {one_line(exc, named=False)}")
        state = bot.state
    if koji is None and parsed.koji is not None:
        koji = part(lambda: koji_connection(parsed.koji, reactor=reactor),
                    lambda exc: _koji_line(parsed.koji, exc))
    if parsed.irc is not None and parsed.irc.tls:
        part(lambda: irc_options.tls_options(parsed.irc),  # reads the TLS files, as connecting
             lambda exc: f"irc.tls_ca: tls_ca {parsed.irc.tls_ca}: {_file_problem(exc)}")
    for name in ("matrix", "amqp"):
        if getattr(parsed, name) is not None:
            part(lambda name=name: _importable(name), lambda exc: one_line(exc, named=False))
    amqp = parsed.amqp
    if amqp is not None and amqp.broker.tls:
        part(lambda: amqp_tls_options(amqp, amqp.broker),  # loads ca, cert and key
             lambda exc: f"amqp: {one_line(exc, named=False)}")
    if problems:
        raise ConfigError(problems)
    return Settings(parsed, koji, registry, state, parsed.irc, parsed.matrix, amqp)


def koji_connection(section: KojiSettings, *, reactor=None) -> txkoji.Connection:
    """The hub connection from ``[koji]``: a profile, or explicit keys, or Fedora's hub.
    Its files (profile, serverca) are read now; nothing is sent."""
    keys = {key: value for key, value in vars(section).items()
            if key != "profile" and value is not None}
    return txkoji.Connection(section.profile, reactor=reactor, **keys)


def _koji_line(section: KojiSettings, exc: Exception) -> str:
    """Without a profile, serverca is the one file the connection reads."""
    key = "profile" if section.profile or isinstance(exc, ProfileError) else "serverca"
    return f"koji.{key}: {one_line(exc, named=False)}"


def _file_problem(exc: Exception) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror \
        else one_line(exc, named=False)


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
