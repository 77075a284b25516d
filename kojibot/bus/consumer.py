"""The message-bus consumer: deliveries from RabbitMQ, handed to the relay in batches.

A Twisted service. pika (its Twisted adapter) speaks AMQP 0-9-1 under a ClientService that
reconnects with backoff and jitter; every connection declares the queue and its bindings
again. ``handle`` gets what has arrived, as one batch, and returns an outcome per delivery;
only then are they settled: rejects one by one, acks in one frame. If ``handle`` fails,
nothing of its batch is acked: the deliveries go back to the queue and the next batch waits
a little (longer while the failures go on).

pika's adapter imports ``twisted.internet.reactor``: install another reactor before importing
this module.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from inspect import isawaitable
from typing import Any, Literal

from pika.exceptions import ConsumerCancelled
from twisted.application.internet import ClientService, backoffPolicy
from twisted.application.service import Service
from twisted.internet import defer, task
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.python.failure import Failure

from kojibot.bus.broker import AMQPSettings
from kojibot.bus.wire import (
    BrokerConnection,
    Delivery,
    ReportingEndpoint,
    as_text,
    endpoint,
    parameters,
    reason_text,
)
from kojibot.upkeep import Upkeep
from txkoji.reactors import default_reactor

__all__ = ["AMQPConsumer", "ConsumerStats", "Delivery", "Outcome"]

log = Logger(namespace="kojibot.bus.consumer")
# The consumer logs each cause of failure once; pika would log it again at every retry.
logging.getLogger("pika").setLevel(logging.CRITICAL)

Outcome = Literal["ack", "reject"]
STOP_WAIT = 10.0  # seconds stopService waits for the batch in hand to be settled
CLOSE_WAIT = 2.0  # seconds stopService waits for the broker to confirm the close
SETUP_TIMEOUT = 60.0  # seconds from TCP connect to consuming before giving up on a broker
CONSUMER_TAG = "kojibot"

Handler = Callable[[list[Delivery]], Awaitable[Sequence[Outcome]] | Sequence[Outcome]]


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
                 failure_delay: float = 1.0, max_failure_delay: float = 30.0):
        reactor = default_reactor(reactor)
        self.settings, self.handle, self.clock = settings, handle, reactor
        self.broker = settings.broker
        self.name = "amqp"
        self.batch_size = batch_size
        self.failure_delay, self.max_failure_delay = failure_delay, max_failure_delay
        self.stats = ConsumerStats()
        self.parameters = parameters(settings, self.broker)
        self.retry_policy = retry_policy or backoffPolicy(initialDelay=1.0, maxDelay=120.0)
        self._current: BrokerConnection | None = None  # the connection now open, if any
        self._connection: BrokerConnection | None = None  # the connection consuming now
        self._failing = 0  # handler failures in a row
        self._busy = False  # the handler has a batch
        self._waiting: defer.Deferred | None = None  # for deliveries, or out a failure pause
        self.upkeep = Upkeep()  # lost before consuming counts as early
        self._idle: list[defer.Deferred[None]] = []
        factory = Factory()
        factory.noisy = False
        factory.buildProtocol = lambda addr: BrokerConnection(self)
        self._client = ClientService(
            ReportingEndpoint(endpoint(settings, self.broker, reactor), self._cannot_connect),
            factory, clock=reactor,
            retryPolicy=lambda attempt: self.retry_policy(self.upkeep.attempts(attempt)))

    @property
    def consuming(self) -> bool:
        return self._connection is not None

    def when_consuming(self) -> defer.Deferred[None]:
        """Fires once the queue is declared, bound and consumed (at once if it is now)."""
        return self.upkeep.wait(self.consuming)

    def startService(self) -> None:
        super().startService()
        log.info("connecting to {broker}", broker=self.broker)
        self._client.startService()

    def stopService(self) -> defer.Deferred[None]:
        """Let the batch in hand be settled (up to STOP_WAIT s), then close and disconnect."""
        if not self.running:
            return defer.succeed(None)
        super().stopService()
        if self._waiting is not None:
            self._waiting.cancel()
        idle: defer.Deferred[None] = defer.Deferred()
        if self._busy:
            self._idle.append(idle)
            idle.addTimeout(STOP_WAIT, self.clock, onTimeoutCancel=lambda *args: None)
        else:
            idle.callback(None)
        return idle.addCallback(lambda _: defer.ensureDeferred(self._close()))

    async def _close(self) -> None:
        conn = self._current
        if conn is not None and conn.is_open:
            closed: defer.Deferred[None] = defer.Deferred()
            conn.close().addBoth(lambda _: None if closed.called else closed.callback(None))
            await closed.addTimeout(CLOSE_WAIT, self.clock, onTimeoutCancel=lambda *args: None)
            await task.deferLater(self.clock, 0, lambda: None)  # out of connectionLost
        await self._client.stopService()

    # -- connection life -----------------------------------------------------------

    def _cannot_connect(self, why: str) -> None:
        self._report_once(f"cannot connect: {why}")

    def _report_once(self, why: str) -> None:
        if self.upkeep.new_error(why):
            log.error("{broker}: {why}", broker=self.broker, why=why)

    def connected(self, conn: BrokerConnection) -> None:
        """The connection's hook once TCP (and TLS) is up: declare, bind, consume."""
        self._current = conn
        timer = self.clock.callLater(
            SETUP_TIMEOUT, conn.drop, f"no answer within {SETUP_TIMEOUT:.0f} s", abort=True)
        d = defer.ensureDeferred(self._setup(conn))
        d.addErrback(lambda failure: self._setup_failed(conn, failure))
        d.addBoth(lambda _: timer.cancel() if timer.active() else None)

    async def _setup(self, conn: BrokerConnection) -> None:
        settings = self.settings
        await conn.ready
        channel = await conn.channel()
        conn.watch(channel)
        arguments = ({"x-dead-letter-exchange": settings.dead_letter_exchange}
                     if settings.dead_letter_exchange else {})
        await channel.queue_declare(settings.queue, durable=True, arguments=arguments)
        for topic in settings.topics:
            await channel.queue_bind(settings.queue, settings.exchange, routing_key=topic)
        await channel.basic_qos(prefetch_count=settings.prefetch)
        conn.deliveries, _ = await channel.basic_consume(settings.queue,
                                                         consumer_tag=CONSUMER_TAG)
        if not self.running:
            return
        self._connection = conn
        self.stats.connections += 1
        log.info("consuming {queue} on {broker} ({exchange}: {topics})", queue=settings.queue,
                 broker=self.broker, exchange=settings.exchange, topics=" ".join(settings.topics))
        self.upkeep.up()
        defer.ensureDeferred(self._consume(conn)).addErrback(
            lambda failure: log.failure("the AMQP batch loop failed", failure))

    def _setup_failed(self, conn: BrokerConnection, failure: Failure) -> None:
        if self.running:
            why = conn.close_reason if conn.close_reason is not None else failure
            self._report_once(f"cannot consume {self.settings.queue}: {reason_text(why)}")
        conn.drop(failure.value)

    def disconnected(self, conn: BrokerConnection) -> None:
        """The connection's hook when it ends: a reconnect follows (ClientService)."""
        if conn is self._current:
            self._current = None
        if conn is self._connection:
            self._connection = None
            if self.running:
                log.warn("lost {broker}: {why}; reconnecting", broker=self.broker,
                         why=reason_text(conn.close_reason))
        else:
            self.upkeep.lost()

    # -- batches -------------------------------------------------------------------

    async def _consume(self, conn: BrokerConnection) -> None:
        """Hand batches to ``handle`` one at a time while *conn* consumes."""
        queue = conn.deliveries
        while self.running and conn is self._connection:
            if not queue.pending:
                try:
                    first = await self._wait(queue.get())
                    await self._wait(task.deferLater(self.clock, 0, lambda: None))
                except ConsumerCancelled:
                    conn.drop("the broker cancelled the consumer (queue deleted?)")
                    return
                except Exception:  # noqa: BLE001 - why pika closed the queue, or a cancel
                    return  # the connection is gone or the service stops
                queue.pending.insert(0, first)  # with the rest of what arrived meanwhile
                continue  # unless the connection went meanwhile
            taken = queue.pending[:self.batch_size]
            del queue.pending[:len(taken)]
            batch = []
            for _, method, properties, body in taken:
                if len(body) > self.settings.max_message_bytes:
                    self._refuse(conn, method, len(body))
                    continue
                batch.append(Delivery(as_text(method.routing_key), properties.headers or {},
                                      body, method.delivery_tag, method.redelivered,
                                      as_text(properties.message_id)))
            if batch:
                await self._hand_over(conn, batch)

    def _refuse(self, conn: BrokerConnection, method: Any, size: int) -> None:
        """Reject a delivery over ``max_message_bytes`` unread, as a malformed one is (to
        the dead-letter exchange if the queue has one), with one log line."""
        self.stats.deliveries += 1
        log.warn("rejected a message of {size} bytes on {key}: over [amqp] max_message_bytes "
                 "({limit}); not read", size=size, key=as_text(method.routing_key),
                 limit=self.settings.max_message_bytes)
        if self._usable(conn, 1):
            conn.amqp_channel.basic_reject(method.delivery_tag, requeue=False)
            self.stats.rejected += 1

    def _wait(self, waiting: defer.Deferred) -> defer.Deferred:
        """*waiting*, cancelled if the service stops meanwhile."""
        self._waiting = waiting

        def done(result):
            self._waiting = None
            return result
        return waiting.addBoth(done)

    async def _hand_over(self, conn: BrokerConnection, batch: list[Delivery]) -> None:
        size = len(batch)
        self.stats.batches += 1
        self.stats.deliveries += size
        self.stats.largest_batch = max(self.stats.largest_batch, size)
        self._busy = True
        try:
            try:
                outcomes = self.handle(batch)
                if isawaitable(outcomes):
                    outcomes = await outcomes
                outcomes = _checked(outcomes, size)
            except Exception as exc:  # noqa: BLE001 - whatever the handler raised
                await self._failed(conn, batch, exc)
            else:
                self._settle(conn, batch, outcomes)
        finally:
            self._busy = False
            self._idle, idle = [], self._idle
            for waiter in idle:
                waiter.callback(None)

    def _usable(self, conn: BrokerConnection, count: int) -> bool:
        if conn is self._connection and conn.amqp_channel.is_open:
            return True
        log.info("connection gone before {count} deliveries were settled; the broker "
                 "delivers them again", count=count)
        return False

    def _settle(self, conn: BrokerConnection, batch: list[Delivery], outcomes: list[str]) -> None:
        """Rejects first, then one ack for the rest: every earlier tag is settled by now."""
        self._failing = 0
        if not self._usable(conn, len(batch)):
            return
        channel, last = conn.amqp_channel, None
        for delivery, outcome in zip(batch, outcomes, strict=True):
            if outcome == "reject":
                channel.basic_reject(delivery.delivery_tag, requeue=False)
                self.stats.rejected += 1
            else:
                last = delivery.delivery_tag
                self.stats.acked += 1
        if last is not None:
            channel.basic_ack(last, multiple=True)

    async def _failed(self, conn: BrokerConnection, batch: list[Delivery], exc: Exception) -> None:
        """Requeue the batch (one reject each, as 0-9-1 proper has no nack) and pause."""
        self.stats.failed_batches += 1
        self._failing += 1
        delay = min(self.failure_delay * 2 ** (self._failing - 1), self.max_failure_delay)
        log.error("handling {count} deliveries failed ({why}); they go back to the queue, "
                  "next batch in {delay:.1f} s", count=len(batch), delay=delay,
                  why=f"{type(exc).__name__}: {exc}")
        if self._usable(conn, len(batch)):
            for delivery in batch:
                conn.amqp_channel.basic_reject(delivery.delivery_tag, requeue=True)
        try:
            await self._wait(task.deferLater(self.clock, delay, lambda: None))
        except defer.CancelledError:
            pass  # stopping


def _checked(result: Any, size: int) -> list[str]:
    outcomes = list(result)
    if len(outcomes) != size:
        raise ValueError(f"handler gave {len(outcomes)} outcomes for {size} deliveries")
    strange = next((outcome for outcome in outcomes if outcome not in ("ack", "reject")), None)
    if strange is not None:
        raise ValueError(f"handler gave outcome {strange!r} (ack or reject expected)")
    return outcomes
