"""The bus consumer's side of the wire: one broker connection on pika's Twisted adapter,
the endpoint it is made on, and the Delivery handed to the relay.

pika's adapter imports ``twisted.internet.reactor``: install another reactor before importing
this module.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pika
from OpenSSL import SSL
from pika import spec
from pika.adapters.twisted_connection import TwistedProtocolConnection
from pika.exceptions import AMQPError, ChannelClosedByBroker
from pika.frame import Method, decode_frame
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.protocol import connectionDone
from twisted.python.failure import Failure
from zope.interface import implementer

from kojibot import __version__
from kojibot.bus.broker import AMQPSettings, Broker, tls_options

if TYPE_CHECKING:
    from kojibot.bus.consumer import AMQPConsumer

# pika copies the rest of its read buffer after each frame it takes: fed 16 KB at a time
# rather than Twisted's 64 KB reads, it copies a quarter as much (about 2 us a message).
READ_CHUNK = 16384
# Capabilities: a failed login is told (ACCESS_REFUSED) rather than a bare close, and a
# deleted queue cancels the consumer rather than leaving it waiting forever.
CLIENT_PROPERTIES = {"product": "kojibot", "version": __version__, "connection_name": "kojibot",
                     "capabilities": {"authentication_failure_close": True,
                                      "consumer_cancel_notify": True}}


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message from the queue, as the consumer hands it to the handler."""

    routing_key: str
    headers: dict  # every field type RabbitMQ sends, decoded; strings that are not UTF-8: bytes
    body: bytes
    delivery_tag: int
    redelivered: bool
    message_id: str | None = None  # the publisher's id (fedora-messaging sets a UUID)


def parameters(settings: AMQPSettings, broker: Broker) -> pika.ConnectionParameters:
    """pika's view of the broker; host, port and TLS are the endpoint's business."""
    credentials = (pika.credentials.ExternalCredentials() if settings.cert
                   else pika.PlainCredentials(broker.username, broker.password))
    return pika.ConnectionParameters(virtual_host=broker.vhost, credentials=credentials,
                                     heartbeat=broker.heartbeat,
                                     client_properties=CLIENT_PROPERTIES)


def as_text(value: str | bytes | None) -> str | None:
    """pika leaves short strings that are not UTF-8 as bytes."""
    return value if type(value) is not bytes else value.decode("utf-8", "replace")


def reason_text(reason: Any) -> str:
    """One line from a Failure, an exception, a pika close (reply_text) or a str."""
    if isinstance(reason, Failure):
        reason = reason.value
    if isinstance(reason, SSL.Error) and reason.args and isinstance(reason.args[0], list):
        return "TLS: " + "; ".join(str(error[-1]) for error in reason.args[0])
    text = getattr(reason, "reply_text", None)
    if text:
        return text if isinstance(text, str) else text.decode("utf-8", "replace")
    if isinstance(reason, Exception):
        return str(reason) or type(reason).__name__
    return str(reason) if reason is not None else "connection closed"


def endpoint(settings: AMQPSettings, broker: Broker, reactor):
    endpoint = HostnameEndpoint(reactor, broker.host, broker.port, timeout=30)
    return wrapClientTLS(tls_options(settings, broker), endpoint) if broker.tls else endpoint


@implementer(IStreamClientEndpoint)
class ReportingEndpoint:
    """Tells the consumer why a connection attempt failed; ClientService retries it."""

    def __init__(self, endpoint, report: Callable[[str], None]):
        self.endpoint, self.report = endpoint, report

    def connect(self, factory):
        def failed(failure: Failure) -> Failure:
            self.report(failure.getErrorMessage())
            return failure
        return self.endpoint.connect(factory).addErrback(failed)


class BrokerConnection(TwistedProtocolConnection):
    """One connection: pika's protocol, remembering why it ended.

    pika's Twisted adapter reports every end as a clean close, so the broker's reason
    (connection.close: ACCESS_REFUSED, CONNECTION_FORCED...) is noted here: from the
    handshake's few frames until pika is ready, then by a callback on channel 0.
    """

    def __init__(self, consumer: AMQPConsumer):
        super().__init__(consumer.parameters, custom_reactor=consumer.clock)
        self.consumer = consumer
        self.handshake: bytearray | None = bytearray()  # read until ready, for its close
        self.close_reason: Any = None
        self.amqp_channel = None  # a TwistedChannel once open
        self.deliveries = None  # the ClosableDeferredQueue of basic.consume
        self.lost = False

    def connectionMade(self) -> None:
        super().connectionMade()
        self.consumer.connected(self)

    def connectionReady(self):
        self.handshake = None
        return super().connectionReady()

    def dataReceived(self, data: bytes) -> None:
        if self.handshake is not None:
            self._note_handshake(data)
        if len(data) <= READ_CHUNK:
            super().dataReceived(data)
            return
        for start in range(0, len(data), READ_CHUNK):
            super().dataReceived(data[start:start + READ_CHUNK])

    def _note_handshake(self, data: bytes) -> None:
        buffer = self.handshake
        buffer += data
        while buffer:
            try:
                size, frame = decode_frame(bytes(buffer))
            except (AMQPError, KeyError, ValueError, struct.error):
                self.handshake = None  # pika tells what is wrong with it
                return
            if not size:
                return
            del buffer[:size]
            if isinstance(frame, Method) and isinstance(frame.method, spec.Connection.Close):
                self._closed_by_broker(frame)

    def _closed_by_broker(self, frame: Method) -> None:
        if self.close_reason is None:
            self.close_reason = frame.method

    def watch(self, channel) -> None:
        """Note the broker's close of the connection or *channel*; the latter ends it."""
        self.amqp_channel = channel
        channel.connection.callbacks.add(0, spec.Connection.Close, self._closed_by_broker,
                                         one_shot=False)
        channel.on_closed.addCallback(self._channel_closed)

    def _channel_closed(self, reason: Any) -> None:
        if isinstance(reason, ChannelClosedByBroker):
            self.drop(reason)

    def drop(self, reason: Any, abort: bool = False) -> None:
        """End the connection for *reason* (ClientService connects again)."""
        if self.close_reason is None:
            self.close_reason = reason
        if not self.lost and self.transport is not None:
            if abort:
                self.transport.abortConnection()
            else:
                self.transport.loseConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.lost = True
        if self.close_reason is None:
            self.close_reason = reason
        super().connectionLost(reason)
        self.consumer.disconnected(self)
