"""Read-through id → name cache for a hub's users and tags, kept on disk between runs.

Names rarely change, so answers are kept for ``max_age`` seconds under
``platformdirs.user_cache_dir('txkoji')/<profile>/`` (which honours XDG_CACHE_HOME).
A hit makes no hub call; concurrent misses for one id share a single call.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from typing import Any

import platformdirs
from twisted.internet import defer
from twisted.python.failure import Failure

DEFAULT_MAX_AGE = 24 * 3600.0

# kind → (hub method, field holding the name)
KINDS = {"user": ("getUser", "name"), "tag": ("getTag", "name")}


def cache_dir(connection: Any) -> str:
    """The directory for this hub's cache files: the profile name, or the server's host."""
    label = connection.profile or re.sub(r"[^A-Za-z0-9_.-]+", "_", connection.server)
    return os.path.join(platformdirs.user_cache_dir("txkoji"), label)


class Cache:
    def __init__(self, connection: Any, directory: str | None = None,
                 max_age: float = DEFAULT_MAX_AGE, clock=time.time):
        self.connection = connection
        self.directory = directory or cache_dir(connection)
        self.max_age = max_age
        self.clock = clock
        self._entries: dict[str, dict[str, list]] = {}
        self._pending: dict[tuple[str, int], list[defer.Deferred]] = {}

    def user_name(self, user_id: int) -> defer.Deferred:
        """The user's name; the Deferred fires with None if the hub has no such user."""
        return self.name("user", user_id)

    def tag_name(self, tag_id: int) -> defer.Deferred:
        """The tag's name; the Deferred fires with None if the hub has no such tag."""
        return self.name("tag", tag_id)

    def cached(self, kind: str, ident: int) -> str | None:
        """The name if it is cached and fresh, without calling the hub."""
        entry = self._load(kind).get(str(ident))
        if entry is None or self.clock() - entry[1] > self.max_age:
            return None
        return entry[0]

    def name(self, kind: str, ident: int) -> defer.Deferred:
        hit = self.cached(kind, ident)
        if hit is not None:
            return defer.succeed(hit)
        key = (kind, int(ident))
        waiter: defer.Deferred = defer.Deferred()
        if key in self._pending:
            self._pending[key].append(waiter)
        else:
            self._pending[key] = [waiter]
            defer.Deferred.fromCoroutine(self._fetch(key))
        return waiter

    async def _fetch(self, key: tuple[str, int]) -> None:
        """One hub call for every waiter on ``key``."""
        kind, ident = key
        method, field = KINDS[kind]
        try:
            info = await self.connection.call(method, ident)
        except Exception:  # noqa: BLE001 - every waiter gets the failure as it is
            failure = Failure()
            for waiter in self._pending.pop(key):
                waiter.errback(failure)
            return
        name = info.get(field) if info else None
        if name is not None:
            self._load(kind)[str(ident)] = [name, self.clock()]
            self._save(kind)
        for waiter in self._pending.pop(key):
            waiter.callback(name)

    def _path(self, kind: str) -> str:
        return os.path.join(self.directory, f"{kind}s.json")

    def _load(self, kind: str) -> dict[str, list]:
        if kind not in self._entries:
            try:
                with open(self._path(kind), encoding="utf-8") as handle:
                    data = json.load(handle)
                self._entries[kind] = data if isinstance(data, dict) else {}
            except (OSError, ValueError):
                self._entries[kind] = {}
        return self._entries[kind]

    def _save(self, kind: str) -> None:
        """Write atomically; a cache that cannot be written still works in memory."""
        try:
            os.makedirs(self.directory, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{kind}s.")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self._entries[kind], handle)
            os.replace(tmp, self._path(kind))
        except OSError:
            pass

