"""The bot's INI configuration: a schema, checked all at once, every problem one line.

Each problem names ``section.key``. ``bot.example.ini`` documents every key listed here.
This is the first half of the check: keys, types and how keys go together. The second half,
``kojibot.settings``, builds from the result what start-up runs on (and so refuses what
the settings classes refuse); ``kojibot check-config`` and start-up both run both halves.
"""

from __future__ import annotations

import configparser
import ipaddress
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import platformdirs

from kojibot.adapters.matrix import recoverykey

FEDORA = {
    "server": "https://koji.fedoraproject.org/kojihub",
    "weburl": "https://koji.fedoraproject.org/koji",
    "topurl": "https://kojipkgs.fedoraproject.org/",
}

MATRIX_USER = re.compile(r"@[^:\s]+:[^\s]+")
# "@user:server", then optionally the master key (43 base64 characters, spaces allowed).
TRUSTED_IDENTITY = re.compile(r"@[^:\s]+:\S+(?P<key>(?:\s+[A-Za-z0-9+/]+)*)")
# Keys that are gone, and what replaced them (one line for check-config).
RETIRED = {("matrix", "trusted_devices"): "replaced by matrix.trusted_identities (people are "
           "trusted by their cross-signing identity: @user:server, optionally followed by "
           "the master key)"}


class ConfigError(Exception):
    """One or more configuration problems, one per line."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "yes", "true", "on"):
        return True
    if lowered in ("0", "no", "false", "off"):
        return False
    raise ValueError("expected yes or no")


def _one_of(*choices: str) -> Callable[[str], str]:
    def convert(value: str) -> str:
        if value.strip().lower() not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return value.strip().lower()
    return convert


def _list(value: str) -> list[str]:
    return [item for item in value.replace(",", " ").split() if item]


def _lines(value: str) -> list[str]:
    """Entries with spaces in them: separated by commas or new lines."""
    return [item.strip() for item in value.replace(",", "\n").splitlines() if item.strip()]


def _positive(kind: Callable[[str], Any]) -> Callable[[str], Any]:
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


def _count(value: str) -> int:
    if not value.isdigit():
        raise ValueError("expected a whole number, 0 or more")
    return int(value)


def _port(value: str) -> int:
    number = int(value) if value.isdigit() else 0
    if not 0 < number < 65536:
        raise ValueError("must be a port number (1-65535)")
    return number


def _lease(value: str) -> float:
    seconds = _positive(float)(value)
    if seconds < 2:
        raise ValueError("must be 2 seconds or more")
    return seconds


def _listen(value: str) -> tuple[str, int]:
    """``ADDRESS:PORT`` (an IP address; IPv6 in brackets) or a bare port on loopback."""
    host, _, port = value.rpartition(":")
    try:
        address = ipaddress.ip_address(host.removeprefix("[").removesuffix("]") or "127.0.0.1")
        if isinstance(address, ipaddress.IPv6Address) != host.startswith("["):
            raise ValueError
        return str(address), _port(port)
    except ValueError:
        raise ValueError("expected ADDRESS:PORT with an IP address, e.g. 127.0.0.1:9180") \
            from None


def _prefix(value: str) -> str:
    if not value or any(ch.isspace() or ch.isalnum() for ch in value):
        raise ValueError("must be one or more punctuation characters, e.g. !")
    return value


def _http_url(value: str) -> str:
    if not re.match(r"https?://[^/\s]+", value):
        raise ValueError("expected an http:// or https:// URL")
    return value.rstrip("/")


def _matrix_user(value: str) -> str:
    if not MATRIX_USER.fullmatch(value):
        raise ValueError("expected a Matrix user id like @kojibot:example.org")
    return value


@dataclass(frozen=True)
class Field:
    convert: Callable[[str], Any] = str
    default: Any = None
    required: bool = False


def default_state_path() -> str:
    return os.path.join(platformdirs.user_data_dir("kojibot"), "state.sqlite3")


SCHEMA: dict[str, dict[str, Field]] = {
    "bot": {
        "prefix": Field(_prefix, "!"),
        "nick": Field(str, "kojibot"),
        "admins": Field(_list, []),
        "ignore": Field(_list, []),
        "plugins": Field(_list, ["help", "task", "build", "user", "eta", "latest", "links",
                                 "subscriptions", "iam", "alerts", "watch", "why"]),
        "state": Field(str, None),
        "lease_seconds": Field(_lease, 6.0),
        "rate": Field(_positive(int), 10),
        "digest_after": Field(_positive(int), 5),
        "digest_window": Field(_positive(float), 10.0),
        "watch_poll_interval": Field(_positive(float), 300.0),
        "watch_poll_batch": Field(_positive(int), 100),
        "watch_max_days": Field(_positive(float), 7.0),
    },
    "koji": {
        "profile": Field(str),
        "server": Field(str),
        "weburl": Field(str),
        "topurl": Field(str),
        "authtype": Field(str),
        "cert": Field(str),
        "serverca": Field(str),
        "user": Field(str),
        "password": Field(str),
        "principal": Field(str),
        "timeout": Field(_positive(float), 30.0),
        "retries": Field(_count),
        "retry_interval": Field(_positive(float)),
        "idle_timeout": Field(_positive(float)),
    },
    "irc": {
        "host": Field(str, required=True),
        "port": Field(_port),
        "tls": Field(_bool, True),
        "tls_verify": Field(_bool, True),
        "tls_ca": Field(str),
        "tls_cert": Field(str),
        "tls_key": Field(str),
        "nick": Field(str),
        "password": Field(str),
        "sasl_username": Field(str),
        "sasl_password": Field(str),
        "channels": Field(_list, []),
        "line_rate": Field(_positive(float), 1.0),
        "burst": Field(_positive(int), 10),
        "ping_interval": Field(_positive(float)),
        "ping_timeout": Field(_positive(float)),
        "username": Field(str),
        "owner": Field(str),
        "realname": Field(str),
    },
    "matrix": {
        "homeserver": Field(_http_url, required=True),
        "user_id": Field(_matrix_user, required=True),
        "password": Field(str),
        "access_token": Field(str),
        "device_name": Field(str, "kojibot"),
        "rooms": Field(_list, []),
        "auto_join": Field(_list, []),
        "tls_verify": Field(_bool, True),
        "encryption": Field(_one_of("tofu", "verified", "refuse"), "tofu"),
        "trusted_identities": Field(_lines, []),
        "recovery_key_file": Field(str),
        "recovery_key_env": Field(str),
    },
    "amqp": {
        "url": Field(str, required=True),
        "exchange": Field(str, "amq.topic"),
        "queue": Field(str, "kojibot"),
        "topics": Field(_list, ["koji.#", "org.fedoraproject.*.buildsys.#"]),
        "prefetch": Field(_positive(int), 500),
        "max_message_bytes": Field(_positive(int), 1 << 20),
        "dead_letter_exchange": Field(str),
        "ca": Field(str),
        "cert": Field(str),
        "key": Field(str),
        "instance": Field(str),
        "topic_prefix": Field(str),
    },
    "metrics": {
        "listen": Field(_listen, ("127.0.0.1", 9180)),
        "stalled_after": Field(_positive(float), 300.0),
    },
}


def parse(text: str, source: str = "<config>") -> SimpleNamespace:
    """Check ``text`` against the schema; raise ConfigError listing every problem."""
    parser = configparser.RawConfigParser(default_section="__none__")
    try:
        parser.read_string(text, source=source)
    except configparser.Error as exc:
        raise ConfigError([str(exc).splitlines()[0]]) from None
    problems: list[str] = []
    sections: dict[str, SimpleNamespace | None] = {}
    for section in parser.sections():
        if section not in SCHEMA:
            problems.append(f"{section}: unknown section (known: {', '.join(SCHEMA)})")
    for section, fields in SCHEMA.items():
        if not parser.has_section(section):
            sections[section] = None if section not in ("bot", "koji") else \
                SimpleNamespace(**{key: field.default for key, field in fields.items()})
            continue
        values = {}
        for key in parser.options(section):
            if key not in fields:
                problems.append(f"{section}.{key}: "
                                f"{RETIRED.get((section, key), 'unknown key')}")
        for key, field in fields.items():
            if not parser.has_option(section, key) or parser.get(section, key).strip() == "":
                if field.required:
                    problems.append(f"{section}.{key}: required key is missing")
                values[key] = field.default
                continue
            raw = parser.get(section, key).strip()
            try:
                values[key] = field.convert(raw)
            except ValueError as exc:
                problems.append(f"{section}.{key}: bad value {raw!r}: {exc}")
        sections[section] = SimpleNamespace(**values)
    problems.extend(_cross_checks(sections))
    if problems:
        raise ConfigError(problems)
    _fill_defaults(sections)
    return SimpleNamespace(**sections)


def _cross_checks(sections: dict[str, SimpleNamespace | None]) -> list[str]:
    problems = []
    koji = sections["koji"]
    if koji is not None and koji.profile and koji.server:
        problems.append("koji.server: give either koji.profile or koji.server, not both")
    irc = sections["irc"]
    if irc is not None and bool(irc.sasl_username) != bool(irc.sasl_password):
        problems.append("irc.sasl_password: sasl_username and sasl_password go together")
    problems.extend(_matrix_checks(sections["matrix"]))
    return problems


def _matrix_checks(matrix: SimpleNamespace | None) -> list[str]:
    if matrix is None:
        return []
    problems = []
    if bool(matrix.password) == bool(matrix.access_token):
        problems.append("matrix.password: give matrix.password or matrix.access_token "
                        "(one of them)")
    for room in matrix.rooms or []:
        if room[:1] not in "!#" or ":" not in room:
            problems.append(f"matrix.rooms: {room!r} is not a room id (!id:server) or "
                            "alias (#name:server)")
    for entry in matrix.auto_join or []:
        if (entry[:1] == "@" and not MATRIX_USER.fullmatch(entry)) or entry[:1] in "!#":
            problems.append(f"matrix.auto_join: {entry!r} is not anyone, a user id "
                            "(@name:server) or a server name")
    for entry in matrix.trusted_identities or []:
        match = TRUSTED_IDENTITY.fullmatch(entry)
        if match is None or len("".join(match["key"].split())) not in (0, 43):
            problems.append(f"matrix.trusted_identities: {entry!r} is not '@user:server' "
                            "(optionally followed by the master key)")
    for key, value in vars(matrix).items():
        if isinstance(value, str) and recoverykey.looks_like(value):
            problems.append(f"matrix.{key}: holds a recovery key, which never goes in this "
                            "file: put it in the file recovery_key_file names (or the "
                            "environment variable recovery_key_env names)")
    return problems


def _fill_defaults(sections: dict[str, SimpleNamespace | None]) -> None:
    bot, koji, irc = sections["bot"], sections["koji"], sections["irc"]
    bot.state = bot.state or default_state_path()
    if not koji.profile and not koji.server:
        for key, value in FEDORA.items():
            setattr(koji, key, getattr(koji, key) or value)
    if irc is not None:
        irc.nick = irc.nick or bot.nick
        irc.port = irc.port or (6697 if irc.tls else 6667)


def load(path: str) -> SimpleNamespace:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ConfigError([f"cannot read: {exc.strerror}"]) from None
    except UnicodeDecodeError:
        raise ConfigError(["not UTF-8 text"]) from None
    return parse(text, source=path)


def defaults() -> SimpleNamespace:
    """The embedded default: console chat, SQLite state, Fedora's public hub."""
    return parse("")
