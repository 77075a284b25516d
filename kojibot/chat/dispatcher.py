"""From a heard line to replies: addressing, parsing, permission, rate limit, errors.

Independent of any network, of the state and of the bot: adapters hand in an Incoming
and deliver the Replies; a context factory (the bot's) gives each line its plugin Context.
Nothing a user, the hub or a plugin does can put a traceback into chat.
"""

from __future__ import annotations

import fnmatch
import re
from collections import Counter
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from twisted.logger import Logger

import txkoji
from kojibot.chat.commands import Command, Group, Registry, UsageError
from kojibot.chat.message import Message, text
from kojibot.chat.model import Incoming, Reply
from kojibot.chat.ratelimit import RateLimit

if TYPE_CHECKING:
    from kojibot.api import Context

log = Logger()

# What a command name looks like: a bare line in a DM starting otherwise (a pasted link, an
# emoji) is chatter, never an unknown command.
COMMAND_WORD = re.compile(r"[^\W\d_][\w-]*")


def addressed(line: str, prefix: str, bot_name: str, direct: bool) -> str | None:
    """The command part of ``line`` if it is meant for the bot, else None.

    ``!task 1`` anywhere; ``kojibot: task 1`` or ``kojibot, task 1``; bare ``task 1`` in a DM.
    """
    line = line.strip()
    if line.startswith(prefix):
        rest = line[len(prefix):]
        return rest.strip() if rest[:1].isalpha() else None
    if bot_name:
        lowered = line.lower()
        for separator in (":", ","):
            lead = bot_name.lower() + separator
            if lowered.startswith(lead):
                return line[len(lead):].strip() or None
    return line if direct and line else None


class Dispatcher:
    """``contexts`` makes the Context a handler gets for a line; ``hub_name`` names the hub
    in the line that answers a hub fault."""

    def __init__(self, registry: Registry, contexts: Callable[[Incoming], Context], *,
                 hub_name: str = "", prefix: str = "!", admins: Iterable[str] = (),
                 ignore: Iterable[str] = (), rate: RateLimit | None = None):
        self.registry = registry
        self.contexts = contexts
        self.hub_name = hub_name
        self.prefix = prefix
        self.admins = {admin.lower() for admin in admins}
        self.ignore = [pattern.lower() for pattern in ignore]
        self.rate = rate or RateLimit(10)
        self.counts: Counter[str] = Counter()  # handlers run, by command or listener name

    def is_admin(self, incoming: Incoming) -> bool:
        return incoming.identity.lower() in self.admins

    def is_ignored(self, incoming: Incoming) -> bool:
        names = {incoming.sender.lower(), incoming.identity.lower()}
        return any(fnmatch.fnmatchcase(name, pattern)
                   for pattern in self.ignore for name in names)

    async def handle(self, incoming: Incoming) -> list[Reply]:
        """Every reply the line deserves (often none)."""
        if self.is_ignored(incoming):
            return []
        line = addressed(incoming.text, self.prefix, incoming.bot_name, incoming.direct)
        if line is None:
            return await self._listen(incoming)
        name, *words = line.split()
        found = self.registry.get(name)
        if found is None and incoming.direct and line == incoming.text.strip():
            heard = await self._listen(incoming)  # a bare DM line is heard as in a channel
            if heard or not COMMAND_WORD.fullmatch(name):
                return heard
        limited = self._limited(incoming)
        if limited is not None:
            return limited
        if found is None:
            return [Reply.to(incoming, text(
                f"Unknown command {self.prefix}{name[:30]} — try {self.prefix}help"))]
        if isinstance(found, Group):
            try:
                command, words = found.resolve(words)
            except UsageError as exc:
                return [_usage(incoming, exc, found.usage(self.prefix))]
            return await self._run(command, words, incoming, found.usage(self.prefix))
        return await self._run(found, words, incoming, found.usage(self.prefix))

    def _limited(self, incoming: Incoming) -> list[Reply] | None:
        """None if the sender may go on; else the one-time notice (or silence)."""
        if self.rate.allow(incoming.identity):
            return None
        if self.rate.should_warn(incoming.identity):
            return [Reply.to(incoming, text(
                f"You have sent {self.rate.per_minute} commands in a minute; "
                "please wait a little."))]
        return []

    async def _run(self, command: Command, words: list[str], incoming: Incoming,
                   usage: str) -> list[Reply]:
        """Run *command* if the asker may; a usage problem is answered with *usage* (the
        group's, for a subcommand: it shows the alternatives)."""
        name = command.name.split()[0]
        if command.permission == "admin" and not self.is_admin(incoming):
            return [Reply.to(incoming, text(f"{self.prefix}{name} is for bot admins."))]
        if command.permission == "operator" and not (incoming.operator or
                                                     self.is_admin(incoming)):
            return [Reply.to(incoming, text(
                f"{self.prefix}{name} needs channel operator rights here."))]
        try:
            arguments = command.parse(words)
        except UsageError as exc:
            return [_usage(incoming, exc, usage)]
        return await self._call(command.name, command.handler, self.contexts(incoming),
                                arguments)

    async def _listen(self, incoming: Incoming) -> list[Reply]:
        """Lines that are not commands: listeners whose pattern they match may answer; such
        a line counts as a command, checked before any listener runs (and calls the hub)."""
        wanted = [listener for listener in self.registry.listeners
                  if listener.wants(incoming.text)]
        if not wanted:
            return []
        limited = self._limited(incoming)
        if limited is not None:
            return limited
        context = self.contexts(incoming)
        replies: list[Reply] = []
        for listener in wanted:
            replies.extend(await self._call(listener.name, listener.handler, context, []))
        return replies

    async def _call(self, name: str, handler, context: Context, arguments: list) -> list[Reply]:
        """The handler's answer; a hub failure is only answered (txkoji logs each one, once),
        anything else is a plugin bug: logged with its traceback, apologised for in chat."""
        self.counts[name] += 1
        try:
            result = await handler(context, *arguments)
        except txkoji.KojiTransportError as exc:
            message = text(f"Cannot reach the Koji hub: {exc}")
        except txkoji.KojiException as exc:
            first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            message = text(f"Koji hub {self.hub_name} said: {first[:300]}")
        except Exception:  # noqa: BLE001 - a plugin bug must not reach chat as a traceback
            log.failure("{name} failed on {line!r}", name=name, line=context.incoming.text)
            message = text(f"Sorry, {self.prefix}{name} failed; the error is in the bot's log.")
        else:
            return [Reply.to(context.incoming, m) for m in _messages(result)]
        return [Reply.to(context.incoming, message)]


def _usage(incoming: Incoming, problem: UsageError, usage: str) -> Reply:
    said = f"{problem}. " if str(problem) else ""
    return Reply.to(incoming, text(f"{said}Usage: {usage}"))


def _messages(result: Any) -> list[Message]:
    if result is None:
        return []
    if isinstance(result, Message):
        return [result]
    return [m for m in result if m is not None]
