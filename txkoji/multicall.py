"""MultiCall: queue hub calls, send them as one ``system.multicall`` request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from twisted.internet import defer

from txkoji import methods, rpc
from txkoji.exceptions import KojiException


class MultiCallResults:
    """The answers, in call order. Iterating or indexing gives each call's rich result,
    or raises that call's fault (the other calls' results stay readable)."""

    def __init__(self, names: list[str], values: list, connection: Any):
        self.names = names
        self.values = values
        self.connection = connection

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, index: int) -> Any:
        value = self.values[index]
        if isinstance(value, KojiException):
            raise value
        return methods.enrich(self.names[index], value, self.connection)

    def __iter__(self) -> Iterator[Any]:
        for index in range(len(self.values)):
            yield self[index]


class MultiCall:
    """``multicall.getBuild(1)`` queues a call; ``yield multicall()`` sends the queue."""

    def __init__(self, connection: Any):
        self.connection = connection
        self.calls: list[dict] = []

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return rpc.MethodProxy(self, name)

    def __len__(self) -> int:
        return len(self.calls)

    def call(self, method: str, *args, **kwargs) -> None:
        """Queue one call (txkoji's request defaults apply as for single calls)."""
        args, kwargs = methods.prepare(method, args, kwargs)
        self.calls.append({"methodName": method, "params": rpc.encode_args(args, kwargs)})

    def __call__(self) -> defer.Deferred:
        """Send every queued call at once and empty the queue."""
        calls, self.calls = self.calls, []
        return defer.Deferred.fromCoroutine(self._send(calls))

    async def _send(self, calls: list[dict]) -> MultiCallResults:
        names = [call["methodName"] for call in calls]
        if not calls:
            return MultiCallResults([], [], self.connection)
        values = await self.connection.raw_call("system.multicall", (calls,))
        if not isinstance(values, list) or len(values) != len(calls):
            raise KojiException(f"the hub answered {len(calls)} calls with {values!r:.200}")
        return MultiCallResults(names, rpc.multicall_results(values), self.connection)
