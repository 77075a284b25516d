"""The relay while the hub hangs: owner names it cannot look up become ids, without waiting
for each event in turn. The hub here is a real txkoji Connection to a loopback port that
accepts connections and never answers (a hung hub; no Koji hub can be made to hang so)."""

from __future__ import annotations

import json
import time

import pytest_twisted
from twisted.internet import protocol, reactor

import txkoji
from kojibot.bus.consumer import Delivery
from kojibot.relay.matching import SubscriptionIndex
from kojibot.relay.router import Relay
from kojibot.state.store import Store, Subscription
from tests.statedb import tables
from tests.unit.txkoji.test_messages import proton_json

EVENTS = 200


class Silent(protocol.Protocol):
    """Reads what it is sent and never answers."""


def build_without_owner_name(n: int) -> Delivery:
    body = proton_json("build_complete")
    info = body["info"]
    info.update(id=500000 + n, build_id=500000 + n, task_id=None, release=f"{n}.fc41",
                nvr=f"hungpkg-1.0-{n}.fc41", name="hungpkg", package_name="hungpkg",
                owner_id=7000 + n)
    info.pop("owner_name", None)
    return Delivery("koji.build.complete", {}, json.dumps(body).encode(), n, False)


@pytest_twisted.ensureDeferred
async def test_two_hundred_events_with_uncached_owners_pass_in_under_five_seconds(state):
    port = reactor.listenTCP(0, protocol.Factory.forProtocol(Silent), interface="127.0.0.1")
    koji = txkoji.Connection(server=f"http://127.0.0.1:{port.getHost().port}/kojihub",
                             weburl="https://koji.example.test/koji", timeout=60)
    tables(state).subscribe(Subscription("irc", "#hung", "package", "hungpkg",
                                         frozenset({"complete"})))
    store = Store(state)
    relay = Relay(store, SubscriptionIndex(store.at_open.subscriptions), koji)
    started = time.monotonic()
    try:
        outcomes = []
        for first in range(0, EVENTS, 50):  # batches as the consumer hands them over
            outcomes += await relay.handle([build_without_owner_name(n)
                                            for n in range(first, first + 50)])
        took = time.monotonic() - started
    finally:
        await koji.close()
        await port.stopListening()
    assert outcomes == ["ack"] * EVENTS
    lines = [json.dumps(row.message) for row in await store.pending()]
    assert len(lines) == EVENTS
    assert all(f"by user {7000 + n}" in line for n, line in enumerate(lines))
    assert took < 5, f"{EVENTS} events took {took:.1f} s with the hub hung"
