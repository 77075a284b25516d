"""Finding the plugin modules that ``[bot] plugins`` names.

Each entry is one of:

- a bare name (``task``): a plugin that ships with kojibot (``kojibot.plugins.task``), or one an
  installed distribution registers in the ``kojibot.plugins`` entry-point group under that name;
- a dotted module path (``mycompany.koji_plugins.builds``): any importable module;
- a file path (``/etc/kojibot/plugins/ours.py`` or ``./ours.py``): a module loaded from that file.

A plugin module declares commands and listeners (kojibot.chat.commands); the registry collects them.
Every problem is one line naming the entry.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Iterable
from importlib.metadata import entry_points
from types import ModuleType

from kojibot.chat.commands import Registry
from kojibot.errortext import one_line

BUILTIN_PACKAGE = "kojibot.plugins"
ENTRY_POINT_GROUP = "kojibot.plugins"


class PluginError(ValueError):
    """A ``[bot] plugins`` entry that cannot be loaded; the message is one line."""

    def __init__(self, entry: str, why: str):
        super().__init__(f"bot.plugins: {entry!r}: {why}")


def load_plugins(entries: Iterable[str]) -> Registry:
    """A registry of the commands and listeners of every named plugin, in order."""
    registry = Registry()
    for entry in entries:
        try:
            registry.add_module(load_plugin(entry))
        except PluginError:
            raise
        except ValueError as exc:  # e.g. a command declared twice
            raise PluginError(entry, str(exc)) from None
    return registry


def load_plugin(entry: str) -> ModuleType:
    if entry.endswith(".py") or os.sep in entry:
        return _from_file(entry)
    if all(part.isidentifier() for part in entry.split(".")):
        return _by_name(entry) if "." not in entry else _import(entry, entry)
    raise PluginError(entry, "not a plugin name, dotted module path or .py file")


def _by_name(name: str) -> ModuleType:
    builtin = f"{BUILTIN_PACKAGE}.{name}"
    if importlib.util.find_spec(builtin) is not None:
        return _import(name, builtin)
    found = entry_points(group=ENTRY_POINT_GROUP, name=name)
    if not found:
        raise PluginError(name, "no such plugin (not built in, and no installed distribution "
                                f"offers it in the {ENTRY_POINT_GROUP} entry points)")
    entry_point = next(iter(found))
    try:
        loaded = entry_point.load()
    except Exception as exc:  # noqa: BLE001 - a broken third-party plugin: one line
        raise PluginError(name, f"{entry_point.value} failed to load: {one_line(exc)}") \
            from None
    if not isinstance(loaded, ModuleType):
        raise PluginError(name, f"entry point {entry_point.value} is not a module")
    return loaded


def _import(entry: str, module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module.startswith(exc.name):
            raise PluginError(entry, f"no module named {exc.name!r}") from None
        raise PluginError(entry, one_line(exc)) from None
    except Exception as exc:  # noqa: BLE001 - a broken plugin: one line
        raise PluginError(entry, f"failed to import: {one_line(exc)}") from None


def _from_file(path: str) -> ModuleType:
    full = os.path.abspath(os.path.expanduser(path))
    if not os.path.isfile(full):
        raise PluginError(path, "no such file")
    name = "kojibot_plugin_" + os.path.splitext(os.path.basename(full))[0].replace("-", "_")
    if not name.isidentifier():
        raise PluginError(path, "the file name must be a Python module name")
    spec = importlib.util.spec_from_file_location(name, full)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - a broken plugin file: one line
        del sys.modules[name]
        raise PluginError(path, f"failed to load: {one_line(exc)}") from None
    return module

