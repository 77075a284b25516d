"""An in-memory Koji hub for tests, in the spirit of ``treq.testing``: no server, but real
XML-RPC through the same seam the real transport fills.

    hub = HubDouble()
    hub.methods["getTaskInfo"] = lambda task_id, request=False: {"id": task_id, "state": 2}
    koji = hub.connection(weburl="https://koji.example.test/koji")
    task = yield koji.getTaskInfo(10)          # a txkoji.task.Task, as from a real hub

Every call is encoded by txkoji exactly as for a hub, decoded here the way a hub decodes it
(keyword arguments, ``<nil/>``, ``<i8>``, ``system.multicall``), answered by the Python
function registered under its name (or by ``answer(method, args, kwargs)``), and the answer
or fault is encoded back and decoded by txkoji as usual. A handler raising a
txkoji.KojiException (``txkoji.GenericError("no such tag")``) answers with its fault code,
any other exception with fault 1, and a method nobody registered with fault 1000, as on a hub.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from txkoji import rpc
from txkoji.connection import Connection
from txkoji.exceptions import KojiException, KojiTransportError

__all__ = ["HubDouble"]

Handler = Callable[..., Any]


class HubDouble:
    """A hub answering from Python functions; give ``connection()`` to the code under test.

    ``requests`` holds, per HTTP request, the methods it carried (a MultiCall is one request
    of several); ``calls`` every call as ``(method, args, kwargs)``. While ``down`` is true
    every request fails as a refused connection does.
    """

    def __init__(self, answer: Callable[[str, tuple, dict], Any] | None = None,
                 url: str = "http://hub.test/kojihub"):
        self.url = url
        self.methods: dict[str, Handler] = {}
        self.answer = answer
        self.requests: list[list[str]] = []
        self.calls: list[tuple[str, tuple, dict]] = []
        self.down = False

    def connection(self, **settings: Any) -> Connection:
        """A txkoji Connection whose calls this double answers."""
        return Connection(server=self.url, transport=self, **settings)

    # The transport seam (what txkoji.transport.Transport offers a Connection)

    async def post(self, url: str, body: bytes, headers: dict[str, str],
                   decode: Callable[[bytes], Any], method: str = "") -> Any:
        if self.down:
            raise KojiTransportError("connection refused", url.split("?", 1)[0])
        return decode(self.respond(body))

    async def close(self) -> None:
        return None

    # The hub's side

    def respond(self, body: bytes) -> bytes:
        """The XML-RPC answer (or fault) a hub would give to request *body*."""
        try:
            method, args, kwargs = rpc.decode_call(body)
        except KojiException as exc:
            return rpc.encode_fault(1000, str(exc))
        if method != "system.multicall":
            self.requests.append([method])
            return self._answered(lambda: self._call(method, args, kwargs))
        calls = args[0] if args else []
        self.requests.append([call.get("methodName", "") for call in calls])
        return rpc.encode_response([self._multicall_entry(call) for call in calls])

    def _multicall_entry(self, call: dict) -> Any:
        params = list(call.get("params", []))
        kwargs = {}
        if params and isinstance(params[-1], dict) and params[-1].get("__starstar"):
            kwargs = {key: value for key, value in params.pop().items() if key != "__starstar"}
        try:
            return [self._call(call.get("methodName", ""), tuple(params), kwargs)]
        except Exception as exc:  # noqa: BLE001 - answered as a hub answers it
            code, message = _fault(exc)
            return {"faultCode": code, "faultString": message}

    def _answered(self, compute: Callable[[], Any]) -> bytes:
        try:
            return rpc.encode_response(compute())
        except Exception as exc:  # noqa: BLE001 - answered as a hub answers it
            return rpc.encode_fault(*_fault(exc))

    def _call(self, method: str, args: tuple, kwargs: dict) -> Any:
        self.calls.append((method, args, kwargs))
        handler = self.methods.get(method)
        if handler is not None:
            return handler(*args, **kwargs)
        if self.answer is not None:
            return self.answer(method, args, kwargs)
        raise KojiException(f"Invalid method: {method}", 1000)


def _fault(exc: Exception) -> tuple[int, str]:
    """A koji fault keeps its code; anything else is fault 1, as on a hub."""
    if isinstance(exc, KojiException):
        return exc.code or 1000, str(exc)
    return 1, f"{type(exc).__name__}: {exc}"
