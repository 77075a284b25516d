"""The message-bus consumer: deliveries from RabbitMQ, handed to the relay in batches.

A Twisted service. txamqp speaks AMQP 0-9-1 under a ClientService (reconnects with backoff
and jitter; every connection declares the queue and its bindings again); kojibot.amqpwire
decodes the deliveries. ``handle`` gets what has arrived, as one batch, and returns an
outcome per delivery; only then are they settled: rejects one by one, acks in one frame.
If ``handle`` fails, nothing of its batch is acked: the deliveries go back to the queue
and the next batch waits a little (longer while the failures go on).
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from OpenSSL import SSL
from twisted.application.internet import ClientService, backoffPolicy
from twisted.application.service import Service
from twisted.internet import defer
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"txamqp\b")

from txamqp import spec as amqp_spec  # noqa: E402 - after the filter
from txamqp.client import Closed, TwistedDelegate  # noqa: E402
from txamqp.protocol import AMQClient  # noqa: E402

from kojibot import __version__  # noqa: E402
from kojibot.amqpsettings import AMQPSettings, Broker, tls_options  # noqa: E402
from kojibot.amqpwire import Delivery, FrameReader, MalformedFrame, start_ok_frame  # noqa: E402
from kojibot.waiters import Waiters  # noqa: E402

__all__ = ["AMQPConsumer", "AMQPSettings", "Broker", "Delivery", "Outcome",
           "consumer_from_config"]

log = Logger(namespace="kojibot.amqp")

Outcome = Literal["ack", "reject"]
Handler = Callable[[list[Delivery]], Awaitable[Sequence[Outcome]]]
SPEC = "/usr/share/amqp/specs/0-9-1/amqp0-9-1.stripped.xml"  # Debian package amqp-specs
CHANNEL = 1
STOP_WAIT = 10.0  # seconds stopService waits for the batch in hand to be settled
# Capabilities: a failed login is told (ACCESS_REFUSED) rather than a bare close, and a
# deleted queue cancels the consumer rather than leaving it waiting forever.
CLIENT_PROPERTIES = {"product": "kojibot", "version": __version__, "connection_name": "kojibot",
                     "capabilities": {"authentication_failure_close": True,
                                      "consumer_cancel_notify": True}}


@dataclass
class ConsumerStats:
    """Counters since start, for logs, tests and benchmarks."""

    connections: int = 0  # times the consumer (re)started consuming
    batches: int = 0
    deliveries: int = 0
    acked: int = 0
    rejected: int = 0
    failed_batches: int = 0
    largest_batch: int = 0


class AMQPConsumer(Service):
    """Consumes ``settings.queue``; a service to add to the bot's MultiService.

    *handle* gets a list of Delivery (at most *batch_size*, all that has arrived) and
    returns, or resolves to, one Outcome per delivery in order. It is never called again
    before it has returned. *retry_policy* maps failed connection attempts to seconds.
    """

    def __init__(self, settings: AMQPSettings, handle: Handler, *, reactor=None,
                 retry_policy: Callable[[int], float] | None = None, batch_size: int = 500,
                 failure_delay: float = 1.0, max_failure_delay: float = 30.0,
                 spec: str = SPEC):
        if reactor is None:
            from twisted.internet import reactor
        self.settings, self.handle, self.clock = settings, handle, reactor
        self.broker = settings.broker
        self.name = "amqp"
        self.batch_size = batch_size
        self.failure_delay, self.max_failure_delay = failure_delay, max_failure_delay
        self.stats = ConsumerStats()
        self.spec = load_spec(spec)
        self.retry_policy = retry_policy or backoffPolicy(initialDelay=1.0, maxDelay=120.0)
        self._protocol: _Protocol | None = None  # the connection consuming now
        self._failures = 0  # connections lost before consuming, so backoff grows on them too
        self._failing = 0  # handler failures in a row
        self._last_error: str | None = None
        self._busy = False
        self._held = None  # the delayed call that ends a pause after a handler failure
        self._waiters = Waiters()
        self._idle: list[defer.Deferred[None]] = []
        factory = Factory()
        factory.noisy = False
        factory.buildProtocol = lambda addr: _Protocol(self)
        self._client = ClientService(
            _ReportingEndpoint(_endpoint(settings, self.broker, reactor), self._cannot_connect),
            factory, clock=reactor,
            retryPolicy=lambda attempt: self.retry_policy(attempt + self._failures))

    @property
    def consuming(self) -> bool:
        return self._protocol is not None

    def when_consuming(self) -> defer.Deferred[None]:
        """Fires once the queue is declared, bound and consumed (at once if it is now)."""
        return self._waiters.wait(self.consuming)

    def startService(self) -> None:
        super().startService()
        log.info("connecting to {broker}", broker=self.broker)
        self._client.startService()

    def stopService(self) -> defer.Deferred[None]:
        """Let the batch in hand be settled (up to STOP_WAIT s), then disconnect."""
        if not self.running:
            return defer.succeed(None)
        super().stopService()
        if self._held is not None:
            self._held.cancel()
            self._held = None
        idle: defer.Deferred[None] = defer.Deferred()
        if self._busy:
            self._idle.append(idle)
            idle.addTimeout(STOP_WAIT, self.clock, onTimeoutCancel=lambda *args: None)
        else:
            idle.callback(None)
        return idle.addCallback(lambda _: self._client.stopService())

    # -- connection life -----------------------------------------------------------

    def _cannot_connect(self, why: str) -> None:
        self._report_once(f"cannot connect: {why}")

    def _report_once(self, why: str) -> None:
        if why != self._last_error:  # one line per cause, not one per retry
            log.error("{broker}: {why}", broker=self.broker, why=why)
        self._last_error = why

    def _connected(self, proto: _Protocol) -> None:
        d = defer.ensureDeferred(self._setup(proto))
        d.addErrback(lambda failure: self._setup_failed(proto, failure))

    async def _setup(self, proto: _Protocol) -> None:
        settings = self.settings
        if settings.cert:
            await proto.start("", "EXTERNAL")
        else:
            await proto.start(f"\0{self.broker.username}\0{self.broker.password}", "PLAIN")
        channel = await proto.channel(CHANNEL)
        await channel.channel_open()
        arguments = ({"x-dead-letter-exchange": settings.dead_letter_exchange}
                     if settings.dead_letter_exchange else {})
        await channel.queue_declare(queue=settings.queue, durable=True, arguments=arguments)
        for topic in settings.topics:
            await channel.queue_bind(queue=settings.queue, exchange=settings.exchange,
                                     routing_key=topic)
        await channel.basic_qos(prefetch_count=settings.prefetch)
        await channel.basic_consume(queue=settings.queue, consumer_tag="kojibot")
        proto.amqp_channel = channel
        self._protocol, self._failures, self._last_error = proto, 0, None
        self.stats.connections += 1
        log.info("consuming {queue} on {broker} ({exchange}: {topics})", queue=settings.queue,
                 broker=self.broker, exchange=settings.exchange, topics=" ".join(settings.topics))
        self._waiters.fire()
        self._kick()

    def _setup_failed(self, proto: _Protocol, failure: Failure) -> None:
        self._report_once(f"cannot consume {self.settings.queue}: {_why(failure.value)}")
        proto.setup_failed = True
        if proto.transport is not None:
            proto.transport.loseConnection()

    def _disconnected(self, proto: _Protocol) -> None:
        proto.pending.clear()  # the broker delivers them again
        if proto is self._protocol:
            self._protocol = None
            if self.running:
                log.warn("lost {broker}: {why}; reconnecting", broker=self.broker,
                         why=_why(proto.close_reason))
        elif proto.amqp_channel is None:
            self._failures += 1
            if not proto.setup_failed and self.running:
                self._report_once(f"connection lost while logging in: {_why(proto.close_reason)}")

    # -- batches -------------------------------------------------------------------

    def _kick(self) -> None:
        proto = self._protocol
        if not self._busy and self._held is None and self.running and proto and proto.pending:
            defer.ensureDeferred(self._drain()).addErrback(
                lambda failure: log.failure("the AMQP batch loop failed", failure))

    async def _drain(self) -> None:
        """Hand batches to ``handle`` one at a time while deliveries wait."""
        self._busy = True
        try:
            while self.running and self._held is None and (proto := self._protocol) \
                    and proto.pending:
                size = min(len(proto.pending), self.batch_size)
                batch = [proto.pending.popleft() for _ in range(size)]
                self.stats.batches += 1
                self.stats.deliveries += size
                self.stats.largest_batch = max(self.stats.largest_batch, size)
                outcomes, failure = await defer.maybeDeferred(self.handle, batch).addCallback(
                    _checked, size).addCallbacks(lambda result: (result, None),
                                                 lambda failure: (None, failure))
                if failure is not None:
                    self._failed(proto, batch, failure)
                else:
                    self._settle(proto, batch, outcomes)
        finally:
            self._busy = False
            self._idle, idle = [], self._idle
            for waiter in idle:
                waiter.callback(None)

    def _usable(self, proto: _Protocol, count: int) -> bool:
        channel = proto.amqp_channel
        if proto is self._protocol and channel is not None and not channel.closed:
            return True
        log.info("connection gone before {count} deliveries were settled; the broker "
                 "delivers them again", count=count)
        return False

    def _settle(self, proto: _Protocol, batch: list[Delivery], outcomes: list[str]) -> None:
        """Rejects first, then one ack for the rest: every earlier tag is settled by now."""
        self._failing = 0
        if not self._usable(proto, len(batch)):
            return
        channel, last = proto.amqp_channel, None
        for delivery, outcome in zip(batch, outcomes, strict=True):
            if outcome == "reject":
                _sent(channel.basic_reject(delivery_tag=delivery.delivery_tag, requeue=False))
                self.stats.rejected += 1
            else:
                last = delivery.delivery_tag
                self.stats.acked += 1
        if last is not None:
            _sent(channel.basic_ack(delivery_tag=last, multiple=True))

    def _failed(self, proto: _Protocol, batch: list[Delivery], failure: Failure) -> None:
        """Requeue the batch (no nack in 0-9-1 proper: one reject each) and pause."""
        self.stats.failed_batches += 1
        self._failing += 1
        delay = min(self.failure_delay * 2 ** (self._failing - 1), self.max_failure_delay)
        log.error("handling {count} deliveries failed ({why}); they go back to the queue, "
                  "next batch in {delay:.1f} s", count=len(batch), delay=delay,
                  why=f"{failure.type.__name__}: {failure.getErrorMessage()}")
        if self._usable(proto, len(batch)):
            for delivery in batch:
                _sent(proto.amqp_channel.basic_reject(delivery_tag=delivery.delivery_tag,
                                                      requeue=True))
        self._held = self.clock.callLater(delay, self._resume)

    def _resume(self) -> None:
        self._held = None
        self._kick()


def consumer_from_config(section, handle: Handler) -> AMQPConsumer:
    """The consumer for the config's ``[amqp]`` section (an object with AMQPSettings' keys)."""
    keys = {f.name for f in dataclasses.fields(AMQPSettings)}
    return AMQPConsumer(AMQPSettings(**{key: value for key, value in vars(section).items()
                                        if key in keys and value is not None}), handle)


_SPECS: dict[str, Any] = {}


def load_spec(path: str = SPEC):
    """txamqp's parsed AMQP spec (parsed once per process); txamqp ships none."""
    if path not in _SPECS:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"AMQP 0-9-1 spec {path} not found: install Debian "
                                    "package amqp-specs")
        _SPECS[path] = amqp_spec.load(path)
    return _SPECS[path]


def _checked(result: Any, size: int) -> list[str]:
    outcomes = list(result)
    if len(outcomes) != size:
        raise ValueError(f"handler gave {len(outcomes)} outcomes for {size} deliveries")
    strange = next((outcome for outcome in outcomes if outcome not in ("ack", "reject")), None)
    if strange is not None:
        raise ValueError(f"handler gave outcome {strange!r} (ack or reject expected)")
    return outcomes


def _sent(sending: Any) -> None:
    """txamqp fails the Deferred of a frame sent on a closed channel: the broker
    requeues what that channel held, so there is nothing to do but not to complain."""
    if isinstance(sending, defer.Deferred):
        sending.addErrback(lambda failure: log.debug("frame not sent: {why}",
                                                     why=_why(failure.value)))


def _why(reason: Any) -> str:
    """One line from what txamqp gives: Closed(Message | Failure | exception), nested."""
    for _ in range(5):
        if isinstance(reason, Failure):
            reason = reason.value
        elif isinstance(reason, Closed) and reason.args:
            reason = reason.args[0]
        else:
            break
    if isinstance(reason, SSL.Error) and reason.args and isinstance(reason.args[0], list):
        return "TLS: " + "; ".join(str(error[-1]) for error in reason.args[0])
    text = getattr(reason, "reply_text", None) if hasattr(reason, "method") else None
    if text is not None:
        return text if isinstance(text, str) else text.decode("utf-8", "replace")
    if isinstance(reason, Exception):
        return str(reason) or type(reason).__name__
    return str(reason) if reason is not None else "connection closed"


def _endpoint(settings: AMQPSettings, broker: Broker, reactor):
    endpoint = HostnameEndpoint(reactor, broker.host, broker.port, timeout=30)
    return wrapClientTLS(tls_options(settings, broker), endpoint) if broker.tls else endpoint


@implementer(IStreamClientEndpoint)
class _ReportingEndpoint:
    """Tells the consumer why a connection attempt failed; ClientService retries it."""

    def __init__(self, endpoint, report: Callable[[str], None]):
        self.endpoint, self.report = endpoint, report

    def connect(self, factory):
        def failed(failure: Failure) -> Failure:
            self.report(failure.getErrorMessage())
            return failure
        return self.endpoint.connect(factory).addErrback(failed)


class _Delegate(TwistedDelegate):
    def connection_start(self, ch, msg) -> None:
        self.client.transport.write(start_ok_frame(
            CLIENT_PROPERTIES, self.client.mechanism, self.client.response.encode(),
            self.client.locale))

    def basic_cancel(self, ch, msg) -> None:
        """The broker cancelled the consumer (its queue was deleted): start over."""
        self.client.close_reason = "the broker cancelled the consumer (queue deleted?)"
        self.client.transport.loseConnection()


class _Protocol(AMQClient):
    """One connection: txamqp for all but deliveries, which amqpwire decodes directly."""

    def __init__(self, consumer: AMQPConsumer):
        super().__init__(_Delegate(), consumer.broker.vhost, consumer.spec,
                         heartbeat=consumer.broker.heartbeat, clock=consumer.clock)
        self.consumer = consumer
        self.reader = FrameReader(CHANNEL)
        self.pending: deque[Delivery] = deque()
        self.amqp_channel = None  # set once consuming
        self.close_reason: Any = None
        self.setup_failed = False

    def connectionMade(self) -> None:
        super().connectionMade()
        self.consumer._connected(self)

    def dataReceived(self, data: bytes) -> None:
        try:
            items = self.reader.feed(data)
        except MalformedFrame as exc:
            self.close_reason = f"garbled data from the broker ({exc})"
            self.transport.abortConnection()
            return
        for item in items:
            if type(item) is bytes:
                self.frame_received(self._unpack_frame(item))
            else:
                self.pending.append(item)
        for problem in self.reader.problems:
            log.warn("{problem}", problem=problem)
        self.reader.problems.clear()
        if self.heartbeatInterval > 0 and not self.closed:
            self.reschedule_check_heartbeat()
        if self.pending:
            self.consumer._kick()

    def do_close(self, reason) -> None:
        if self.close_reason is None:
            self.close_reason = reason
        super().do_close(reason)

    def channel_failed(self, channel, reason) -> None:
        """The broker closed our channel: start over on a new connection."""
        self.close_reason = reason
        if self.transport is not None:
            self.transport.loseConnection()

    def connectionLost(self, reason) -> None:
        if self.close_reason is None:
            self.close_reason = reason
        super().connectionLost(reason)
        self.consumer._disconnected(self)
