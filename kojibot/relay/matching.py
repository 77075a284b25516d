"""Which rooms want which events: an index whose matching cost does not grow with the
number of subscriptions.

Exact names are dictionary hits. Globs (``python-*``) are filed under the literal text
before their first wildcard; an event name only visits the globs filed under its own
prefixes, so only globs that could match are tried.
"""

from __future__ import annotations

import fnmatch
import re
from collections import Counter, defaultdict

from kojibot.state.records import Subscription

_WILDCARD = re.compile(r"[*?\[]")


def is_glob(pattern: str) -> bool:
    return bool(_WILDCARD.search(pattern))


class SubscriptionIndex:
    def __init__(self, subscriptions: list[Subscription] = ()):
        self._exact: dict[tuple[str, str], list[Subscription]] = defaultdict(list)
        self._globs: dict[tuple[str, str], list[tuple[re.Pattern, Subscription]]] = \
            defaultdict(list)
        self._longest_prefix = 0
        self._wanted: Counter[str] = Counter()  # subscriptions per event word
        self._rooms: dict[tuple[str, str], dict[tuple[str, str], Subscription]] = \
            defaultdict(dict)
        for sub in subscriptions:
            self.add(sub)

    def __len__(self) -> int:
        return sum(map(len, self._exact.values())) + sum(map(len, self._globs.values()))

    def add(self, sub: Subscription) -> None:
        self.remove(sub)
        pattern = sub.pattern.lower()
        if is_glob(pattern):
            prefix = _WILDCARD.split(pattern, 1)[0]
            self._longest_prefix = max(self._longest_prefix, len(prefix))
            compiled = re.compile(fnmatch.translate(pattern))
            self._globs[(sub.kind, prefix)].append((compiled, sub))
        else:
            self._exact[(sub.kind, pattern)].append(sub)
        self._wanted.update(sub.events)
        self._rooms[(sub.network, sub.room)][(sub.kind, pattern)] = sub

    def wants(self, event: str) -> bool:
        """Whether any subscription wants ``event``: spares look-ups nobody asked for."""
        return self._wanted[event] > 0

    def remove(self, sub: Subscription) -> None:
        """Drop the subscription with sub's room, kind and pattern (events may differ)."""
        same = (sub.network, sub.room, sub.kind, sub.pattern.lower())

        def keep(other: Subscription) -> bool:
            return (other.network, other.room, other.kind, other.pattern.lower()) != same

        pattern = sub.pattern.lower()
        if is_glob(pattern):
            key = (sub.kind, _WILDCARD.split(pattern, 1)[0])
            gone = [s for _, s in self._globs[key] if not keep(s)]
            self._globs[key] = [(c, s) for c, s in self._globs[key] if keep(s)]
        else:
            key = (sub.kind, pattern)
            gone = [s for s in self._exact[key] if not keep(s)]
            self._exact[key] = [s for s in self._exact[key] if keep(s)]
        for old in gone:
            self._wanted.subtract(old.events)
        room = self._rooms.get((sub.network, sub.room))
        if room is not None:
            room.pop((sub.kind, pattern), None)
            if not room:
                del self._rooms[(sub.network, sub.room)]

    def in_room(self, network: str, room: str) -> list[Subscription]:
        """A room's subscriptions, by kind and pattern."""
        subs = self._rooms.get((network, room), {})
        return [subs[key] for key in sorted(subs)]

    def match(self, kind: str, name: str | None, event: str) -> list[Subscription]:
        """Subscriptions of ``kind`` whose pattern matches ``name`` and that want ``event``."""
        if not name:
            return []
        name = name.lower()
        found = [s for s in self._exact.get((kind, name), ()) if event in s.events]
        for length in range(min(len(name), self._longest_prefix) + 1):
            for compiled, sub in self._globs.get((kind, name[:length]), ()):
                if event in sub.events and compiled.match(name):
                    found.append(sub)
        return found
