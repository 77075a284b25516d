"""A TCP proxy on loopback that puts a database "far away": each chunk is forwarded after
``delay`` seconds in each direction (25 ms each way: a PostgreSQL 50 ms away), in order;
``stall()`` holds every byte in both directions (a database that stopped answering) until
``flow()``. Runs on the test's reactor; the bot under test is another process."""

from __future__ import annotations

from collections import deque

from twisted.internet import protocol, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint


class _Pipe:
    """One direction: chunks go out in order, each ``delay`` after it came in."""

    def __init__(self, proxy: DelayProxy):
        self.proxy = proxy
        self.chunks: deque[tuple[float, bytes]] = deque()
        self.transport = None  # where the chunks go, once connected
        self._call = None
        self.closing = False

    def put(self, data: bytes) -> None:
        self.chunks.append((reactor.seconds() + self.proxy.delay, data))
        self.pump()

    def pump(self) -> None:
        if self._call is not None and self._call.active():
            return
        while self.chunks and self.transport is not None and not self.proxy.stalled:
            due, data = self.chunks[0]
            wait = due - reactor.seconds()
            if wait > 0:
                self._call = reactor.callLater(wait, self.pump)
                return
            self.chunks.popleft()
            self.transport.write(data)
        if not self.chunks and self.closing and self.transport is not None:
            self.transport.loseConnection()

    def close(self) -> None:
        self.closing = True
        self.pump()


class _Outer(protocol.Protocol):
    """Where the other side (the database, or the client) talks to us."""

    def __init__(self, pipe_in: _Pipe):
        self.pipe_in = pipe_in

    def dataReceived(self, data: bytes) -> None:
        self.pipe_in.put(data)

    def connectionLost(self, reason=None) -> None:
        self.pipe_in.close()


class _Client(protocol.Protocol):
    def __init__(self, proxy: DelayProxy):
        self.proxy = proxy
        self.up, self.down = _Pipe(proxy), _Pipe(proxy)  # to the database, to the client

    def connectionMade(self) -> None:
        self.proxy.pipes += [self.up, self.down]
        self.down.transport = self.transport
        endpoint = TCP4ClientEndpoint(reactor, self.proxy.host, self.proxy.port)
        factory = protocol.Factory.forProtocol(lambda: _Outer(self.down))
        endpoint.connect(factory).addCallbacks(self._connected,
                                               lambda _: self.transport.loseConnection())

    def _connected(self, server) -> None:
        self.up.transport = server.transport
        self.up.pump()

    def dataReceived(self, data: bytes) -> None:
        self.up.put(data)

    def connectionLost(self, reason=None) -> None:
        self.up.close()


class DelayProxy:
    """``await start()`` → the local port to connect to instead of host:port."""

    def __init__(self, host: str, port: int, delay: float = 0.0):
        self.host, self.port, self.delay = host, port, delay
        self.stalled = False
        self.pipes: list[_Pipe] = []
        self._listening = None

    async def start(self) -> int:
        factory = protocol.Factory.forProtocol(lambda: _Client(self))
        self._listening = reactor.listenTCP(0, factory, interface="127.0.0.1")
        return self._listening.getHost().port

    def stall(self) -> None:
        self.stalled = True

    def flow(self) -> None:
        self.stalled = False
        for pipe in self.pipes:
            pipe.pump()

    async def stop(self) -> None:
        if self._listening is not None:
            await self._listening.stopListening()
        for pipe in self.pipes:
            if pipe.transport is not None:
                pipe.transport.loseConnection()
