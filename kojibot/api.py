"""The plugin API: all a plugin imports from kojibot, and all it may ask of the bot.

A plugin module declares commands (``@command``, ``@command("group sub")`` for a group's
subcommand) and listeners (``@listener(pattern)``); each handler gets a :class:`Context` and
returns a :class:`Message` (``text(...)``), a list of them, or None. The Context knows who
asked where and offers the bot's services; each service keeps the state file and the bot's
in-memory indexes in step, so a plugin cannot leave them apart. Handlers never see the bot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from twisted.logger import Logger

import txkoji
from kojibot.chat.commands import Command, command, listener
from kojibot.chat.message import Message, bold, link, state, text
from kojibot.chat.model import Incoming
from kojibot.personal.buildroot import KIND as BUILDROOT
from kojibot.personal.buildroot import in_buildroot_line, waiting_text
from kojibot.personal.watcher import PER_PERSON as WATCHES_PER_PERSON
from kojibot.personal.watches import is_done, root_state
from kojibot.state.store import Alert, Person, Subscription, WatchRecord
from kojibot.wording import timefmt
from kojibot.wording.answers import build_answer, task_answer, user_answer
from kojibot.wording.eventnames import BUILD_EVENTS as ALERT_EVENTS
from kojibot.wording.eventnames import (
    DEFAULT_EVENTS,
    EVENTS,
    NOT_MINE,
    OPTIONS,
    PACKAGE_EVENTS,
    TRANSITIONS,
)
from kojibot.wording.failures import why_answer

if TYPE_CHECKING:
    from kojibot.bot import Bot

log = Logger()

__all__ = [
    "ALERT_EVENTS",
    "BUILDROOT",
    "DEFAULT_EVENTS",
    "EVENTS",
    "NOT_MINE",
    "OPTIONS",
    "PACKAGE_EVENTS",
    "TRANSITIONS",
    "WATCHES_PER_PERSON",
    "Alert",
    "Annotated",
    "Command",
    "Context",
    "Message",
    "Subscription",
    "WatchRecord",
    "bold",
    "build_answer",
    "command",
    "in_buildroot_line",
    "is_done",
    "link",
    "listener",
    "root_state",
    "state",
    "task_answer",
    "text",
    "timefmt",
    "user_answer",
    "waiting_text",
    "why_answer",
]


class Context:
    """One heard line: who said it where (``incoming``), and the services a plugin may use.

    Subscriptions belong to the room the line was said in; alerts, identity links and
    watches to the person who said it (their ``identity``: services account, else nick, on
    Matrix the user id).
    """

    def __init__(self, incoming: Incoming, prefix: str, bot: Bot):
        self.incoming = incoming
        self.prefix = prefix
        self._bot = bot

    # -- the hub and the bot's own facts ---------------------------------------------

    @property
    def koji(self) -> txkoji.Connection:
        """The hub connection (txkoji): every attribute is a hub call."""
        return self._bot.koji

    @property
    def is_admin(self) -> bool:
        return self._bot.dispatcher.is_admin(self.incoming)

    @property
    def commands(self):
        """The enabled commands (``names()``, ``find(words)``, ``usage``), for help."""
        return self._bot.registry

    # -- who is asking -----------------------------------------------------------------
    # Reads come from the bot's memory; a write is awaited by the handler that asked for it,
    # and only then is the memory changed, so memory never holds what the database lacks.

    @property
    def identity(self) -> str:
        """The asker's identity, lower-case. Where a DM reaches them now is remembered too
        (an IRC nick may change), so their alerts follow them; nobody waits for that write."""
        incoming, alerts = self.incoming, self._bot.alerts
        identity = incoming.identity.lower()
        known = alerts.person(incoming.network, identity)
        if known is None or known.contact != incoming.sender:
            alerts.remember(Person(incoming.network, identity, incoming.sender,
                                   known.koji_user if known else None,
                                   known.linked_by if known else None))
            self._bot.store.set_contact(incoming.network, identity, incoming.sender
                                        ).addErrback(lambda failure: log.failure(
                                            "remembering where {who} is failed", failure,
                                            who=identity))
        return identity

    def koji_user(self, identity: str | None = None) -> str | None:
        """The Koji user linked to the asker (or to *identity*), if any."""
        person = self._bot.alerts.person(self.incoming.network, identity or self.identity)
        return person.koji_user if person else None

    async def link(self, koji_user: str, identity: str | None = None) -> str:
        """Link the asker (or, for admins, someone else by nick) to *koji_user*; the
        identity linked."""
        incoming = self.incoming
        who, contact = (identity.lower(), identity) if identity else \
            (self.identity, incoming.sender)
        await self._bot.store.link(incoming.network, who, contact, koji_user, incoming.identity)
        self._bot.alerts.remember(Person(incoming.network, who, contact, koji_user,
                                         incoming.identity))
        return who

    # -- this room's subscriptions -----------------------------------------------------

    async def subscribe(self, kind: str, pattern: str, events: frozenset[str]) -> bool:
        """Post *pattern*'s *events* in this room; False if exactly that was already so."""
        incoming = self.incoming
        sub = Subscription(incoming.network, incoming.room, kind, pattern, frozenset(events),
                           created_by=incoming.identity)
        changed = await self._bot.store.subscribe(sub)
        self._bot.subscriptions.add(sub)
        return changed

    async def unsubscribe(self, kind: str, pattern: str) -> bool:
        incoming = self.incoming
        if not await self._bot.store.unsubscribe(incoming.network, incoming.room, kind,
                                                 pattern):
            return False
        self._bot.subscriptions.remove(Subscription(incoming.network, incoming.room, kind,
                                                    pattern, frozenset()))
        return True

    def subscriptions(self) -> list[Subscription]:
        return self._bot.subscriptions.in_room(self.incoming.network, self.incoming.room)

    # -- the asker's DM alerts ---------------------------------------------------------

    def alerts(self, identity: str | None = None) -> list[Alert]:
        """The asker's alerts (or *identity*'s)."""
        return self._bot.alerts.of(self.incoming.network, identity or self.identity)

    async def set_alert(self, kind: str, pattern: str, events: frozenset[str]) -> Alert:
        """Alert the asker about builds of their Koji user (kind "owner", pattern "") or
        of a package (kind "package", pattern a name or glob)."""
        alert = Alert(self.incoming.network, self.identity, kind, pattern, frozenset(events))
        await self._bot.store.set_alert(alert)
        self._bot.alerts.set(alert)
        return alert

    async def remove_alerts(self, kind: str | None = None, pattern: str | None = None) -> int:
        """Remove the asker's alerts (all, or one kind and pattern); how many went."""
        network, identity = self.incoming.network, self.identity
        removed = await self._bot.store.remove_alerts(network, identity, kind, pattern)
        self._bot.alerts.removed(network, identity, kind, pattern)
        return removed

    # -- the asker's watches -----------------------------------------------------------

    async def look(self, kind: str, ref: int | str) -> WatchRecord | None:
        """A task tree ("task", id) or build ("build", NVR or id) as the hub has it now,
        ready to watch; None if the hub has no such thing."""
        return await self._bot.watcher.look(kind, ref)

    async def look_buildroot(self, ref: str | int, tag: str | None) -> WatchRecord | str:
        """A watch for build *ref* to be in *tag*'s buildroot (no tag: its target's build
        tag), ready to watch; else one line saying why not."""
        return await self._bot.watcher.look_buildroot(ref, tag)

    async def in_buildroot(self, found: WatchRecord) -> tuple[dict, float | None] | None:
        """(repo, tagging time) if the tag's newest repo holds the build already."""
        return await self._bot.watcher.check_now(found)

    async def watch(self, found: WatchRecord) -> bool:
        """Report *found* to the asker where they asked when it ends; False if they were
        watching it already."""
        incoming = self.incoming
        found.network, found.identity = incoming.network, self.identity
        found.asker, found.room = incoming.sender, incoming.room
        return await self._bot.watcher.add(found)

    async def unwatch(self, watch: WatchRecord) -> bool:
        return await self._bot.watcher.remove(watch)

    def watches(self) -> list[WatchRecord]:
        """The asker's watches, each with what is known of it now."""
        return self._bot.watcher.of(self.incoming.network, self.identity)
