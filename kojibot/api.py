"""The plugin API: all a plugin imports from kojibot, and all it may ask of the bot.

A plugin module declares commands (``@command``, ``@command("group sub")`` for a group's
subcommand) and listeners (``@listener(pattern)``); each handler gets a :class:`Context` and
returns a :class:`Message` (``text(...)`` with ``bold``, ``link``, ``state`` parts), a list of
them, or None. The Context says who asked where and offers the bot's services
(kojibot.services); each keeps the state and the bot's in-memory indexes in step, so a
plugin cannot leave them apart. Handlers never see the bot.
"""

from __future__ import annotations

from dataclasses import dataclass

from kojibot.chat.commands import Registry, command, listener
from kojibot.chat.message import Message, bold, link, state, text
from kojibot.chat.model import Incoming
from kojibot.personal.watches import is_done, root_state
from kojibot.services.alerts import Alerts
from kojibot.services.hub import Hub
from kojibot.services.identity import Identity
from kojibot.services.subscriptions import Subscriptions
from kojibot.services.watches import Watches
from kojibot.state.records import Alert, Subscription, WatchRecord
from kojibot.wording import timefmt

__all__ = [
    "Alert",
    "Context",
    "Message",
    "Subscription",
    "WatchRecord",
    "bold",
    "command",
    "is_done",
    "link",
    "listener",
    "root_state",
    "state",
    "text",
    "timefmt",
]


@dataclass(frozen=True)
class Context:
    """One heard line and the services a handler may use; nothing else.

    - ``incoming``: who said what where (network, room, sender, text, direct, operator).
    - ``prefix``: the command prefix (``!``), for usage hints.
    - ``commands``: the enabled commands (``names()``, ``get(name)``), for help.
    - ``is_admin``: whether the asker is a bot admin.
    - ``hub``: ``hub.koji``, the txkoji connection, and the one-line answers
      ``task``, ``build``, ``user``, ``why``.
    - ``identity``: who asked (``who``), ``koji_user()``, ``link(KOJIUSER)``.
    - ``subscriptions``: this room's: ``add``, ``remove``, ``current``; ``events`` reads
      event words.
    - ``alerts``: the asker's DM alerts: ``set``, ``remove``, ``current``; ``events``.
    - ``watches``: the asker's watches: ``look``, ``add``, ``remove``, ``current``, ``limit``.

    Reads answer from memory at once and never write; writes are awaited and return once
    the database has them.
    """

    incoming: Incoming
    prefix: str
    commands: Registry
    is_admin: bool
    hub: Hub
    identity: Identity
    subscriptions: Subscriptions
    alerts: Alerts
    watches: Watches
