"""Koji client profiles, read from the same files and in the same order as the koji CLI."""

from __future__ import annotations

import configparser
import glob
import os

from txkoji.exceptions import ProfileError, ProfileNotFound

# Later files win, so user files come last.
CONFIG_PATTERNS = (
    "/etc/koji.conf",
    "/etc/koji.conf.d/*.conf",
    "~/.koji/config.d/*.conf",
    "~/.koji/config",
)

# Settings a profile may carry, with the conversion each needs.
KEYS = {
    "server": str,
    "weburl": str,
    "topurl": str,
    "authtype": str,
    "cert": str,
    "serverca": str,
    "timeout": float,
    "user": str,
    "password": str,
    "principal": str,
    "keytab": str,
}
_PATH_KEYS = ("cert", "serverca", "keytab")


def config_files() -> list[str]:
    """Existing koji configuration files, lowest precedence first."""
    paths: list[str] = []
    for pattern in CONFIG_PATTERNS:
        paths.extend(sorted(glob.glob(os.path.expanduser(pattern))))
    return paths


def _parsed(files: list[str]):
    for path in files:
        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError) as exc:
            raise ProfileError(f"{path}: {exc}".splitlines()[0]) from None
        yield parser


def read_profile(name: str, files: list[str] | None = None) -> dict:
    """The settings of profile ``name``, merged over all files (user files win)."""
    files = config_files() if files is None else files
    settings: dict = {}
    found = False
    for parser in _parsed(files):
        if not parser.has_section(name):
            continue
        found = True
        for key, convert in KEYS.items():
            if parser.has_option(name, key):
                value = parser.get(name, key)
                try:
                    settings[key] = convert(value)
                except ValueError:
                    raise ProfileError(f"koji profile {name!r}: bad {key} {value!r}") from None
    if not found:
        searched = ", ".join(CONFIG_PATTERNS)
        raise ProfileNotFound(f"no koji profile {name!r} in {searched}")
    for key in _PATH_KEYS:
        if key in settings:
            settings[key] = os.path.expanduser(settings[key])
    return settings


def profiles_by_weburl(files: list[str] | None = None) -> dict[str, str]:
    """Every profile's weburl → profile name, to find the hub behind a pasted kojiweb link."""
    files = config_files() if files is None else files
    found: dict[str, str] = {}
    for parser in _parsed(files):
        for section in parser.sections():
            if parser.has_option(section, "weburl"):
                found[parser.get(section, "weburl").rstrip("/")] = section
    return found
