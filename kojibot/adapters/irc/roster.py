"""Who is where on an IRC network, from what the server says: channels we are in, their
members with prefix modes and channel modes, services accounts; and which PRIVMSG is for us."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from kojibot.adapters.irc.lines import WHOX_TOKEN, Line, casefold, room_of
from kojibot.chat import render
from kojibot.chat.model import Incoming


@dataclass
class Channel:
    name: str
    members: dict[str, set[str]] = field(default_factory=dict)  # folded nick → prefix modes
    modes: set[str] = field(default_factory=set)
    awaiting: set[str] = field(default_factory=lambda: {"NAMES", "MODE"})

    @property
    def synced(self) -> bool:
        """We know who is here (NAMES) and the channel's modes (MODE)."""
        return not self.awaiting


class Roster:
    """Channels we are in, who is in them with which prefix modes, and services accounts."""

    def __init__(self) -> None:
        self.casemapping = "rfc1459"
        self.prefixes: dict[str, tuple[str, int]] = {"o": ("@", 0), "v": ("+", 1)}
        self.channels: dict[str, Channel] = {}
        self.accounts: dict[str, str] = {}

    def apply(self, line: Line, me: str, caps: set[str]) -> None:
        """Follow one server line; *me* is our nick, *caps* the IRCv3 caps in effect."""
        cmd, params, mine = line.command, line.params, self.fold(line.nick) == self.fold(me)
        if cmd == "JOIN":
            if mine:
                self.joined(params[0])
            if "extended-join" in caps and len(params) > 1:
                account: str | None = params[1]
            else:
                account = line.tags.get("account", "*") if "account-tag" in caps else None
            self.add(params[0], line.nick, account)
        elif cmd in ("PART", "KICK"):
            gone = params[1] if cmd == "KICK" else line.nick
            if self.fold(gone) == self.fold(me):
                self.left(params[0])
            else:
                self.remove(params[0], gone)
        elif cmd == "QUIT":
            self.quit(line.nick)
        elif cmd == "NICK":
            self.renamed(line.nick, params[0])
        elif cmd == "ACCOUNT":
            self.set_account(line.nick, params[0])
        elif cmd == "353":
            self.names(params[2], params[-1].split())
        elif cmd == "366":
            self._answered(params[1], "NAMES")
        elif cmd == "324" and self.channel(params[1]):
            modes = params[2].lstrip("+") if len(params) > 2 else ""
            self.channels[self.fold(params[1])].modes = set(modes)
            self._answered(params[1], "MODE")
        elif cmd == "354" and len(params) >= 4 and params[1] == WHOX_TOKEN:
            self.set_account(params[2], params[3])

    def incoming(self, line: Line, network: str, me: str, caps: set[str],
                 chantypes: str) -> Incoming | None:
        """What the core hears from a PRIVMSG (None for CTCP, empty or our own lines)."""
        nick, text = line.nick, line.params[-1] if len(line.params) > 1 else ""
        if not text or text.startswith("\x01") or self.fold(nick) == self.fold(me):
            return None
        room = room_of(line.params[0], chantypes,
                       "".join(symbol for symbol, _ in self.prefixes.values()))
        state = self.channel(room) if room else None
        account = line.tags.get("account") if "account-tag" in caps else self.account(nick)
        return Incoming(network=network, sender=nick, text=render.strip_irc_formatting(text),
                        room=state.name if state else room, account=account,
                        operator=bool(room and self.is_operator(room, nick)), bot_name=me)

    def _answered(self, channel: str, what: str) -> None:
        state = self.channel(channel)
        if state:
            state.awaiting.discard(what)

    def fold(self, name: str) -> str:
        return casefold(name, self.casemapping)

    def channel(self, name: str) -> Channel | None:
        return self.channels.get(self.fold(name))

    def joined(self, channel: str) -> Channel:
        state = self.channels[self.fold(channel)] = Channel(channel)
        return state

    def left(self, channel: str) -> None:
        self.channels.pop(self.fold(channel), None)
        self._forget_strangers()

    def add(self, channel: str, nick: str, account: str | None = None) -> None:
        state = self.channel(channel)
        if state is not None:
            state.members.setdefault(self.fold(nick), set())
        self.set_account(nick, account)

    def names(self, channel: str, entries: Iterable[str]) -> None:
        """Apply one RPL_NAMREPLY: ``@+alice``, ``bob``, ``@carol!c@host`` (userhost-in-names)."""
        state = self.channel(channel)
        if state is None:
            return
        symbols = {symbol: mode for mode, (symbol, _) in self.prefixes.items()}
        for entry in entries:
            modes = set()
            while entry and entry[0] in symbols:
                modes.add(symbols[entry[0]])
                entry = entry[1:]
            if entry:
                state.members[self.fold(entry.split("!", 1)[0])] = modes

    def prefix_mode(self, channel: str, nick: str, mode: str, added: bool) -> None:
        state = self.channel(channel)
        modes = state.members.get(self.fold(nick)) if state else None
        if modes is not None:
            (modes.add if added else modes.discard)(mode)

    def remove(self, channel: str, nick: str) -> None:
        state = self.channel(channel)
        if state:
            state.members.pop(self.fold(nick), None)
        self._forget_strangers()

    def quit(self, nick: str) -> None:
        for state in self.channels.values():
            state.members.pop(self.fold(nick), None)
        self.accounts.pop(self.fold(nick), None)

    def renamed(self, old: str, new: str) -> None:
        old_key, new_key = self.fold(old), self.fold(new)
        for state in self.channels.values():
            if old_key in state.members:
                state.members[new_key] = state.members.pop(old_key)
        if old_key in self.accounts:
            self.accounts[new_key] = self.accounts.pop(old_key)

    def set_account(self, nick: str, account: str | None) -> None:
        """Record an account; ``"*"``/``"0"`` (extended-join, WHOX) mean logged out."""
        if account is None:
            return
        if account in ("*", "0", ""):
            self.accounts.pop(self.fold(nick), None)
        else:
            self.accounts[self.fold(nick)] = account

    def account(self, nick: str) -> str | None:
        return self.accounts.get(self.fold(nick))

    def is_operator(self, channel: str, nick: str) -> bool:
        """+o, or any prefix mode ranked above it (+a, +q), in *channel*."""
        state = self.channel(channel)
        modes = state.members.get(self.fold(nick), set()) if state else set()
        op_rank = self.prefixes.get("o", ("@", 0))[1]
        return any(self.prefixes.get(mode, ("", op_rank + 1))[1] <= op_rank for mode in modes)

    def colours_allowed(self, channel: str) -> bool:
        state = self.channel(channel)
        return not (state and "c" in state.modes)

    def _forget_strangers(self) -> None:
        """Drop accounts of nicks we no longer share a channel with: they may change hands."""
        seen = {nick for state in self.channels.values() for nick in state.members}
        for nick in set(self.accounts) - seen:
            del self.accounts[nick]
