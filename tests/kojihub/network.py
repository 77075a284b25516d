"""What can sit between txkoji and a hub, or pose as one, for transport tests (in-process).

`Relay` is a loopback TCP relay to a real hub server standing in for the network in
between: a firewall that forgets idle connections, or a network that loses an answer.
The rest are servers that misbehave in one way each (hang up, cut an answer short, stay
silent, answer 502) and a resolver that knows no names, so no lookup leaves the machine.
"""

from __future__ import annotations

from twisted.internet import defer, protocol, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IHostnameResolver
from twisted.web import resource
from zope.interface import implementer


class Relay(protocol.Factory):
    """A loopback TCP relay to a hub server, standing in for the network in between.

    ``idle_drop``: a connection idle that long is forgotten, as a stateful firewall does:
    nothing more passes either way and nobody is told (no FIN, no RST).
    ``lose_answers``: that many answers are lost: the request reaches the hub, which acts
    on it, and the client's connection is cut when the first byte of the answer arrives.
    """

    def __init__(self, upstream_port: int, idle_drop: float | None = None):
        self.upstream_port = upstream_port
        self.idle_drop = idle_drop
        self.lose_answers = 0
        self.lost = 0
        self.connections = 0
        self.listening = reactor.listenTCP(0, self, interface="127.0.0.1")
        self.url = f"http://127.0.0.1:{self.listening.getHost().port}/kojihub"

    def buildProtocol(self, addr):
        return _RelayClientSide(self)

    def stop(self) -> defer.Deferred:
        return self.listening.stopListening()


class _RelayClientSide(protocol.Protocol):
    def __init__(self, relay: Relay):
        self.relay = relay
        self.upstream: _RelayHubSide | None = None
        self.pending: list[bytes] = []
        self.forgotten = False
        self.last = reactor.seconds()

    def connectionMade(self):
        self.relay.connections += 1
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", self.relay.upstream_port)
        connectProtocol(endpoint, _RelayHubSide(self)).addCallbacks(
            self.hub_connected, lambda _: self.transport.loseConnection())

    def hub_connected(self, upstream):
        self.upstream = upstream
        for data in self.pending:
            upstream.transport.write(data)
        self.pending = []

    def passes(self) -> bool:
        """False once the connection sat idle past idle_drop (and forever after)."""
        now = reactor.seconds()
        idle = self.relay.idle_drop
        if idle is not None and now - self.last > idle:
            self.forgotten = True
        self.last = now
        return not self.forgotten

    def dataReceived(self, data):
        if not self.passes():
            return
        if self.upstream is None:
            self.pending.append(data)
        else:
            self.upstream.transport.write(data)

    def connectionLost(self, reason):
        if self.upstream is not None:
            self.upstream.transport.loseConnection()


class _RelayHubSide(protocol.Protocol):
    def __init__(self, client: _RelayClientSide):
        self.client = client
        self.cut = False

    def dataReceived(self, data):
        relay = self.client.relay
        if self.cut or not self.client.passes():
            return
        if relay.lose_answers:
            relay.lose_answers -= 1
            relay.lost += 1
            self.cut = True
            self.client.transport.abortConnection()
            return
        self.client.transport.write(data)

    def connectionLost(self, reason):
        if not self.client.forgotten:
            self.client.transport.loseConnection()


class Counting(protocol.Factory):
    def __init__(self, proto):
        self.protocol = proto
        self.connections = 0

    def buildProtocol(self, addr):
        self.connections += 1
        return super().buildProtocol(addr)


class HangUpAfterRequest(protocol.Protocol):
    """Reads the request and closes without a word (a worker that died)."""

    def dataReceived(self, data):
        self.transport.loseConnection()


class HalfAnswer(protocol.Protocol):
    """Starts an answer and closes in its middle."""

    def dataReceived(self, data):
        self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n<?xml ")
        self.transport.loseConnection()


class Silent(protocol.Protocol):
    """Accepts the request and never answers."""


def listening(proto) -> tuple[Counting, object, str]:
    """A Counting factory of *proto* listening on loopback: (factory, port, hub URL)."""
    factory = Counting(proto)
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    return factory, port, f"http://127.0.0.1:{port.getHost().port}/kojihub"


class BadGateway(resource.Resource):
    isLeaf = True  # noqa: N815 (Twisted's name)

    def render_POST(self, request):
        request.setResponseCode(502)
        return b"<html><head><title>502 Bad Gateway</title></head>\r\n<body></body></html>"


@implementer(IHostnameResolver)
class NoNames:
    """A resolver that knows no host at all (no query leaves the machine)."""

    def resolveHostName(self, receiver, *args, **kwargs):
        receiver.resolutionBegan(None)
        receiver.resolutionComplete()
        return receiver
