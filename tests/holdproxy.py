"""A TCP proxy on loopback in front of an HTTP server that can hold back the answers to some
requests: the server has handled them, the client never hears so. With it a test kills a
client between a homeserver's event and its event id (a slow homeserver, made on purpose).

    proxy = HoldingProxy(synapse.port, b"/send/")   # PUT .../send/... answers held
    proxy.hold = True; ...; proxy.held              # request lines whose answers were held
"""

from __future__ import annotations

from twisted.internet import protocol, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint, connectProtocol


class _Upstream(protocol.Protocol):
    def __init__(self, downstream: _Downstream):
        self.downstream = downstream

    def dataReceived(self, data: bytes) -> None:
        self.downstream.from_server(data)

    def connectionLost(self, reason=None) -> None:
        self.downstream.transport.loseConnection()


class _Downstream(protocol.Protocol):
    def __init__(self, proxy: HoldingProxy):
        self.proxy = proxy
        self.upstream: _Upstream | None = None
        self.pending: list[bytes] = []
        self.holding = False  # the request being answered is one whose answer is held

    def connectionMade(self) -> None:
        self.transport.pauseProducing()
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", self.proxy.target)
        connectProtocol(endpoint, _Upstream(self)).addCallbacks(self._up, self._failed)

    def _up(self, upstream: _Upstream) -> None:
        self.upstream = upstream
        self.transport.resumeProducing()

    def _failed(self, _failure) -> None:
        self.transport.loseConnection()

    def dataReceived(self, data: bytes) -> None:
        request = data.split(b"\r\n", 1)[0]
        if request.endswith(b" HTTP/1.1") and b" /" in request:
            self.holding = self.proxy.hold and self.proxy.pattern in request
            self.proxy.requests.append(request.decode(errors="replace"))
            if self.holding:
                self.proxy.held.append(request.decode(errors="replace"))
        assert self.upstream is not None
        self.upstream.transport.write(data)

    def from_server(self, data: bytes) -> None:
        if not self.holding:
            self.transport.write(data)

    def connectionLost(self, reason=None) -> None:
        if self.upstream is not None:
            self.upstream.transport.loseConnection()


class HoldingProxy:
    """Forwards 127.0.0.1:``port`` to 127.0.0.1:*target*; while ``hold`` is set, the answer to
    a request whose request line contains *pattern* never reaches the client."""

    def __init__(self, target: int, pattern: bytes):
        self.target, self.pattern = target, pattern
        self.hold = False
        self.requests: list[str] = []
        self.held: list[str] = []
        self.port = 0
        self._listening = None

    async def start(self) -> HoldingProxy:
        factory = protocol.Factory()
        factory.buildProtocol = lambda addr: _Downstream(self)
        self._listening = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(
            factory)
        self.port = self._listening.getHost().port
        return self

    async def stop(self) -> None:
        if self._listening is not None:
            await self._listening.stopListening()
