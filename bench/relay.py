"""The relay's speed, each figure next to a baseline from the same run.

    python3 -m bench.relay [--quick] [--events 20000] [--parts a,b,c,d]

(a) in-process: parse → match 10,000 subscriptions → render → rows handed to the store,
    events/s (goal ≥ 20,000), beside json.loads alone on the same bodies (the store's own
    commit runs on its thread and is part of (b));
(b) a private RabbitMQ node, 20,000 persistent messages: kojibot's consume + match + persist
    + ack rate (the real AMQPConsumer, Relay and SQLite store) vs pika's raw consume + ack
    rate, one ack per message and one per 100 (goal ≥ 0.6x the former); and the consumer
    alone (a handler that acks everything), to tell its cost from the relay's. Each row
    also gives the process's CPU time per message, steadier than rates on a busy machine;
(c) publish → line on IRC latency, p50/p99/max, at 100 events/s for 10 s: the real bot on
    ngircd with its flood throttle off (``[Limits] MaxPenaltyTime = 0``), pacing 1,000 lines/s;
(d) a 500-event burst into one channel on inspircd (10 lines free, then 1 line/s) with the
    default pacing and digest settings: time until the last digest line, lines sent, all
    events accounted for, and whether the bot stayed connected.
Peers are started by the benchmark itself (the test suite's fixture modules) and stopped
after, even on error. The Twisted parts (b, c, d) run under the asyncio reactor, as the CLI.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
import traceback
import uuid
from pathlib import Path
from types import SimpleNamespace

from twisted.internet import defer

from kojibot.relay.matching import SubscriptionIndex
from kojibot.relay.router import Relay
from kojibot.state.store import Store, Subscription
from kojibot.wording.eventnames import DEFAULT_EVENTS
from tests.busmessages import FEDORA_BUILD, fedora_build

# tests.ircuser imports the reactor: it is imported where used, after main() has installed
# the asyncio reactor.
FEDORA_HEADERS = {"fedora_messaging_schema": "koji_fedoramessaging.build.BuildStateChangeV1"}
WEBURL = "https://koji.example.test/koji"
NO_HUB = "http://127.0.0.1:9/kojihub"  # nothing listens: bus events carry owner names
PREFETCH = 500  # kojibot's default [amqp] prefetch; pika gets the same
CONSUME_TIMEOUT = 60.0  # seconds any one consume run may take
LATENCY_RATE = 100  # events/s published for (c)
# (events for a and b, seconds of publishing for c, burst size for d): full and --quick runs
SIZES = {"full": (20000, 10, 500), "quick": (500, 2, 40)}


def bodies(count: int, packages: int = 20000, seed: int = 7) -> list[bytes]:
    """Build-completed or -failed events of random packages; about half have a subscriber."""
    rng = random.Random(seed)
    return [fedora_build(n + 1, f"pkg{rng.randrange(packages)}", rng.choice((1, 3)),
                         owner=f"user{n % 50}", task_id=n + 100) for n in range(count)]


def subscriptions(count: int = 10000) -> list[Subscription]:
    subs = [Subscription("irc", f"#room{n % 500}", "package", f"pkg{n}", DEFAULT_EVENTS)
            for n in range(count - 100)]
    subs += [Subscription("irc", f"#glob{n}", "package", f"pkg{n}?-*", DEFAULT_EVENTS)
             for n in range(100)]
    return subs


class Handed:
    """Counts the rows the relay hands to the store, at once (no thread, no database)."""

    rows = 0

    async def record_events(self, records) -> int:
        self.rows += sum(len(entries) for _, entries in records)
        return len(records)


def in_process(events: int) -> dict[str, float]:
    from kojibot.bus.consumer import Delivery  # imports a reactor: after use_asyncio_reactor()

    payloads = bodies(events)
    deliveries = [Delivery(FEDORA_BUILD, FEDORA_HEADERS, body, n, False, f"m{n}")
                  for n, body in enumerate(payloads)]
    start = time.perf_counter()
    for body in payloads:
        json.loads(body)
    json_rate = events / (time.perf_counter() - start)

    store = Handed()
    relay = Relay(store, SubscriptionIndex(subscriptions()),
                  SimpleNamespace(weburl=WEBURL))
    start = time.perf_counter()
    for first in range(0, events, 500):
        outcomes = defer.Deferred.fromCoroutine(relay.handle(deliveries[first:first + 500]))
        assert outcomes.called, "the in-process relay must not wait on anything"
    rate = events / (time.perf_counter() - start)
    return {"rate": rate, "json_rate": json_rate, "queued": store.rows}


def report_a(events: int) -> None:
    result = in_process(events)
    print(f"(a) parse → match 10,000 subscriptions → render → queue, {events} events")
    print(f"    json.loads alone         : {result['json_rate']:10.0f} events/s  (baseline)")
    print(f"    kojibot relay            : {result['rate']:10.0f} events/s  "
          f"{result['rate'] / result['json_rate']:.2f}x json.loads, goal ≥ 20,000/s; "
          f"{result['queued']} lines queued")


# Shared by b, c, d: publishing with pika (blocking: run in a thread) ----------------------

def fedora_properties():
    """What fedora-messaging sets on a message: persistent, JSON, an id, its headers."""
    import pika

    return pika.BasicProperties(
        delivery_mode=2, content_type="application/json", message_id=str(uuid.uuid4()),
        headers={**FEDORA_HEADERS, "sent-at": "2026-01-05T10:25:11+00:00",
                 "fedora_messaging_severity": 20})


def publish_builds(url: str, items: list[tuple[int, bytes]],
                   rate: float | None = None) -> dict[int, float]:
    """Publish (build id, body) pairs to amq.topic, at *rate* per second if given (else as
    fast as pika goes); returns the monotonic time each id was handed to the socket."""
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    sent: dict[int, float] = {}
    start = time.monotonic()
    try:
        for n, (build_id, body) in enumerate(items):
            if rate:
                pause = start + n / rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
            properties = fedora_properties()
            sent[build_id] = time.monotonic()
            channel.basic_publish("amq.topic", FEDORA_BUILD, body, properties)
    finally:
        connection.close()
    return sent


async def wait_until(reactor, probe, timeout: float, step: float = 0.02) -> bool:
    """Whether probe() became true within *timeout* seconds (without blocking the reactor)."""
    from twisted.internet import task

    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() >= deadline:
            return False
        await task.deferLater(reactor, step, lambda: None)
    return True


async def blocking(function, *args):
    from twisted.internet import threads

    return await threads.deferToThread(function, *args)


# (b) the broker: kojibot's full path against pika's raw consume + ack ------------------

def fill_queues(url: str, queues: list[str], events: int) -> float:
    """Declare *queues* bound to the Fedora build topic and publish *events* build messages
    once (each lands in every queue); wait until all hold them. Returns the publish rate."""
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    for queue in queues:
        channel.queue_declare(queue, durable=True)
        channel.queue_bind(queue, "amq.topic", routing_key=FEDORA_BUILD)
    start = time.perf_counter()
    publish_builds(url, list(enumerate(bodies(events), 1)))
    publish_rate = events / (time.perf_counter() - start)
    deadline = time.monotonic() + 60
    for queue in queues:
        while channel.queue_declare(queue, passive=True).method.message_count < events:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{queue} did not fill with {events} messages in 60 s")
            time.sleep(0.1)
    connection.close()
    return publish_rate


def ready_count(url: str, queue: str) -> int:
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        connection.close()


def pika_consume(url: str, queue: str, count: int, ack_every: int) -> dict[str, float]:
    """Consume *count* messages with manual acks (multiple=True every *ack_every*);
    msgs/s from the first delivery to the last ack, and CPU microseconds a message."""
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.basic_qos(prefetch_count=PREFETCH)
    seen, times, cpu = 0, [], []

    def on_message(ch, method, _properties, _body) -> None:
        nonlocal seen
        if not times:
            times.append(time.perf_counter())
            cpu.append(time.process_time())
        seen += 1
        if ack_every == 1:
            ch.basic_ack(method.delivery_tag)
        elif seen % ack_every == 0 or seen == count:
            ch.basic_ack(method.delivery_tag, multiple=True)
        if seen >= count:
            times.append(time.perf_counter())
            cpu.append(time.process_time())
            ch.stop_consuming()

    channel.basic_consume(queue, on_message)
    timer = connection.call_later(CONSUME_TIMEOUT, channel.stop_consuming)
    try:
        channel.start_consuming()
    finally:
        connection.remove_timeout(timer)
        connection.close()
    if seen < count:
        raise TimeoutError(f"pika consumed {seen} of {count} in {CONSUME_TIMEOUT:.0f} s")
    return {"rate": count / (times[1] - times[0]), "cpu": (cpu[1] - cpu[0]) / count * 1e6}


async def kojibot_consume(reactor, url: str, queue: str, count: int,
                          state: Path | None) -> dict[str, float]:
    """The real AMQPConsumer (settings from an [amqp] section) handing batches to the real
    Relay: consume + match 10,000 subscriptions + commit to SQLite (WAL) + ack; with no
    *state*, to a handler that acks everything (the consumer's own cost)."""
    from kojibot import config
    from kojibot.bus.consumer import AMQPConsumer

    store = Store(str(state)) if state is not None else None
    relay = Relay(store, SubscriptionIndex(subscriptions()), SimpleNamespace(weburl=WEBURL),
                  reactor=reactor) if store is not None else None
    finished: defer.Deferred[None] = defer.Deferred()
    progress = {"handled": 0, "first": 0.0, "cpu": 0.0}

    async def handle(batch):
        if not progress["handled"]:
            progress["first"] = time.perf_counter()
            progress["cpu"] = time.process_time()
        outcomes = await relay.handle(batch) if relay is not None else ["ack"] * len(batch)
        progress["handled"] += len(batch)
        if progress["handled"] >= count and not finished.called:
            # The consumer settles (acks) as soon as this returns; look right after.
            reactor.callLater(0, finished.callback, None)
        return outcomes

    section = config.parse(f"[amqp]\nurl = {url}\nqueue = {queue}\n").amqp
    consumer = AMQPConsumer(section, handle)
    consumer.startService()
    try:
        await finished.addTimeout(CONSUME_TIMEOUT, reactor)
        seconds = time.perf_counter() - progress["first"]
        cpu = time.process_time() - progress["cpu"]
    finally:
        await consumer.stopService()
    stats = consumer.stats
    result = {"rate": count / seconds, "cpu": cpu / count * 1e6, "acked": stats.acked,
              "batches": stats.batches, "largest": stats.largest_batch}
    if store is not None:
        store.close()
        with sqlite3.connect(state) as db:
            result["matched"] = db.execute("SELECT count(*) FROM relayed_event").fetchone()[0]
            result["lines"] = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
    return result


async def report_b(reactor, events: int) -> None:
    from tests import rabbitmq as node

    queues = ["bench-pika-ack1", "bench-pika-ack100", "bench-kojibot", "bench-kojibot-alone"]
    workdir = Path(tempfile.mkdtemp(prefix="kojibot-bench-b-"))
    broker = await blocking(node.start)
    try:
        publish_rate = await blocking(fill_queues, broker.url, queues, events)
        pika_each = await blocking(pika_consume, broker.url, queues[0], events, 1)
        pika_100 = await blocking(pika_consume, broker.url, queues[1], events, 100)
        ours = await kojibot_consume(reactor, broker.url, queues[2], events,
                                     workdir / "state.sqlite3")
        alone = await kojibot_consume(reactor, broker.url, queues[3], events, None)
        left = [await blocking(ready_count, broker.url, queue) for queue in queues]
    finally:
        await blocking(broker.cleanup)
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"(b) private RabbitMQ node, {events} persistent Fedora build messages per queue "
          f"(published at {publish_rate:.0f} msgs/s), prefetch {PREFETCH}")
    each, hundred = pika_each["rate"], pika_100["rate"]
    print(f"    pika, ack each           : {each:10.0f} msgs/s  (baseline)  "
          f"cpu {pika_each['cpu']:5.1f} us/msg")
    print(f"    pika, multiple-ack /100  : {hundred:10.0f} msgs/s  {hundred / each:.2f}x "
          f"baseline  cpu {pika_100['cpu']:5.1f} us/msg")
    print(f"    kojibot consume+match+persist+ack: {ours['rate']:7.0f} msgs/s  "
          f"{ours['rate'] / each:.2f}x pika ack-each (goal ≥ 0.6x), "
          f"{ours['rate'] / hundred:.2f}x pika ack/100  cpu {ours['cpu']:5.1f} us/msg")
    print(f"    kojibot consume+ack alone: {alone['rate']:10.0f} msgs/s  "
          f"{alone['rate'] / hundred:.2f}x pika ack/100  cpu {alone['cpu']:5.1f} us/msg "
          f"({alone['batches']} batches, largest {alone['largest']})")
    print(f"    kojibot: {ours['acked']} acked in {ours['batches']} batches (largest "
          f"{ours['largest']}); {ours['matched']} events matched, {ours['lines']} lines queued "
          f"in SQLite; left in the queues after: {left}")


# Running ---------------------------------------------------------------------------------

def use_asyncio_reactor() -> None:
    """The CLI's reactor; installed before anything imports twisted.internet.reactor."""
    if "twisted.internet.reactor" not in sys.modules:
        from twisted.internet import asyncioreactor

        asyncioreactor.install()


def start_logging() -> None:
    """Warnings and errors from the bot (a reconnect, a refused line) go to stderr."""
    from twisted.logger import (
        FilteringLogObserver,
        LogLevel,
        LogLevelFilterPredicate,
        globalLogBeginner,
        textFileLogObserver,
    )

    predicate = LogLevelFilterPredicate(defaultLogLevel=LogLevel.warn)
    globalLogBeginner.beginLoggingTo(
        [FilteringLogObserver(textFileLogObserver(sys.stderr), [predicate])],
        redirectStandardIO=False)


def run_twisted(parts: list[str], events: int, seconds: int, burst: int) -> list[str]:
    """Run the reactor parts in one reactor run; the names of those that failed."""
    from twisted.internet import task

    failed: list[str] = []
    from bench import relaychat

    reports = {"b": lambda reactor: report_b(reactor, events),
               "c": lambda reactor: relaychat.report_c(reactor, LATENCY_RATE * seconds),
               "d": lambda reactor: relaychat.report_d(reactor, burst)}

    async def run(reactor) -> None:
        for part in parts:
            try:
                await reports[part](reactor)
            except Exception:  # noqa: BLE001 - report it and go on to the next part
                failed.append(part)
                print(f"({part}) failed:", file=sys.stderr)
                traceback.print_exc()
            sys.stdout.flush()

    try:
        task.react(lambda reactor: defer.Deferred.fromCoroutine(run(reactor)))
    except SystemExit as exit_:
        if exit_.code:
            failed.append("reactor")
    return failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, help="events for (a) and messages per queue "
                        "for (b) (default 20,000; 500 with --quick)")
    parser.add_argument("--parts", default="a,b,c,d", help="which of a,b,c,d to run")
    parser.add_argument("--quick", action="store_true",
                        help="small counts: checks that every part runs, figures are rough")
    args = parser.parse_args()
    events, seconds, burst = SIZES["quick" if args.quick else "full"]
    events = args.events or events
    parts = [part for part in "abcd" if part in args.parts.split(",")]
    use_asyncio_reactor()
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"kojibot relay benchmark: {os.cpu_count()} CPUs, load average {load} at start "
          "(other work on the machine skews every figure below)")
    failed: list[str] = []
    if "a" in parts:
        report_a(events)
        sys.stdout.flush()
    if set(parts) - {"a"}:
        start_logging()
        failed += run_twisted([part for part in parts if part != "a"], events, seconds, burst)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
