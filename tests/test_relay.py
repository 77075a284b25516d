"""Relay and outbox without a broker or chat server: deliveries are made here, the
adapter is a recorder standing in for IRC/Matrix (those run for real in test_relay_e2e.py)."""

from types import SimpleNamespace

import pytest_twisted
from twisted.internet.task import Clock

from kojibot.bus.consumer import Delivery
from kojibot.relay.matching import SubscriptionIndex
from kojibot.relay.outbox import AFTER_WRITTEN, OutboxPump
from kojibot.relay.router import Relay
from kojibot.state.store import Store, Subscription
from kojibot.wording.eventnames import DEFAULT_EVENTS, EVENTS
from tests.busmessages import FEDORA_BUILD, fedora_build

WEB = "https://koji.example.test/koji"


def build_change(build_id, name, new, old=0, owner="alice"):
    return Delivery(FEDORA_BUILD, {}, fedora_build(build_id, name, new, owner=owner, old=old),
                    build_id, False, message_id=f"m-{build_id}-{new}")


class Recorder:
    """Stands in for a chat adapter: records replies, 'writes' them when told to."""

    network = "irc"

    def __init__(self, ready=True, auto=True):
        self.ready = ready
        self.auto = auto
        self.replies = []

    def deliver(self, reply):
        self.replies.append(reply)
        if self.auto:
            reply.sent()

    def lines(self):
        return [(r.target.name, r.message.plain()) for r in self.replies]


def setup(subs, tmp_path):
    store = Store(str(tmp_path / "state.sqlite3"))
    for sub in subs:
        store.subscribe(sub)
    index = SubscriptionIndex(store.subscriptions())
    koji = SimpleNamespace(weburl=WEB)
    return store, Relay(store, index, koji)


def sub(room, kind, pattern, events=DEFAULT_EVENTS):
    return Subscription("irc", room, kind, pattern, frozenset(events))


@pytest_twisted.ensureDeferred
async def test_matching_event_is_queued_once_per_room(tmp_path):
    store, relay = setup([sub("#a", "package", "bash"), sub("#a", "owner", "alice"),
                          sub("#b", "package", "python-*"), sub("#c", "tag", "f41")], tmp_path)
    outcomes = await relay.handle([build_change(7, "bash", 1),
                                   build_change(8, "python-x", 3, owner="carol"),
                                   build_change(9, "gcc", 1, owner="bob")])
    assert outcomes == ["ack", "ack", "ack"]
    rows = [(r.target, r.message) for r in store.pending()]
    assert [target for target, _ in rows] == ["#a", "#b"]  # #a once, though matched twice
    line = "".join(p if isinstance(p, str) else p["text"] for p in rows[0][1])
    assert line == (f"bash-1.0-7.fc41 COMPLETE (was BUILDING) by alice, took 25m 10s — "
                    f"{WEB}/buildinfo?buildID=7")


@pytest_twisted.ensureDeferred
async def test_redelivery_is_not_queued_twice(tmp_path):
    store, relay = setup([sub("#a", "package", "bash")], tmp_path)
    await relay.handle([build_change(7, "bash", 1)])
    await relay.handle([build_change(7, "bash", 1)])
    assert len(store.pending()) == 1


@pytest_twisted.ensureDeferred
async def test_event_filters(tmp_path):
    store, relay = setup([sub("#a", "package", "bash"),
                          sub("#all", "package", "bash", EVENTS)], tmp_path)
    await relay.handle([build_change(7, "bash", 0, old=None)])  # started
    assert [r.target for r in store.pending()] == ["#all"]


@pytest_twisted.ensureDeferred
async def test_malformed_is_rejected_and_the_rest_delivered(tmp_path):
    store, relay = setup([sub("#a", "package", "bash")], tmp_path)
    bad = Delivery(FEDORA_BUILD, {}, b"{not json", 1, False)
    wrong = Delivery("koji.build.complete", {}, b"\xff\xfe\x00garbage", 2, False)
    outcomes = await relay.handle([bad, build_change(7, "bash", 1), wrong])
    assert outcomes == ["reject", "ack", "reject"]
    assert len(store.pending()) == 1


@pytest_twisted.ensureDeferred
async def test_subscriptions_survive_a_restart(tmp_path):
    store, _ = setup([sub("#a", "package", "python-*")], tmp_path)
    store.close()
    again = Store(str(tmp_path / "state.sqlite3"))
    index = SubscriptionIndex(again.subscriptions())
    assert [s.room for s in index.match("package", "python-six", "failed")] == ["#a"]


def test_index_matching_does_not_scan_all_subscriptions():
    index = SubscriptionIndex([sub(f"#{n}", "package", f"pkg{n}") for n in range(10000)] +
                              [sub(f"#g{n}", "package", f"lib{n}-*") for n in range(1000)])
    assert [s.room for s in index.match("package", "pkg4242", "complete")] == ["#4242"]
    assert [s.room for s in index.match("package", "lib7-devel", "failed")] == ["#g7"]
    assert index.match("package", "other", "complete") == []


def pump_for(store, adapter, clock):
    return OutboxPump(store, {"irc": adapter}, coalesce=5, window=10, reactor=clock,
                      clock=clock.seconds)


@pytest_twisted.ensureDeferred
async def test_burst_becomes_five_lines_and_one_digest(tmp_path):
    store, relay = setup([sub("#a", "package", "bash")], tmp_path)
    await relay.handle([build_change(n, "bash", 1) for n in range(1, 13)])
    clock, adapter = Clock(), Recorder()
    pump = pump_for(store, adapter, clock)
    pump.pump()
    assert len(adapter.replies) == 5
    clock.advance(10)
    lines = adapter.lines()
    assert len(lines) == 6 and store.pending() == []
    assert lines[5] == ("#a", "7 builds completed: bash-1.0-6.fc41, bash-1.0-7.fc41, "
                              "bash-1.0-8.fc41 +4 more")


@pytest_twisted.ensureDeferred
async def test_rows_wait_for_the_network_and_stay_until_written(tmp_path):
    store, relay = setup([sub("#a", "package", "bash")], tmp_path)
    await relay.handle([build_change(1, "bash", 1), build_change(2, "bash", 3)])
    clock, adapter = Clock(), Recorder(ready=False, auto=False)
    pump = pump_for(store, adapter, clock)
    pump.pump()
    assert adapter.replies == []
    adapter.ready = True
    clock.advance(2)
    assert len(adapter.replies) == 2 and len(store.pending()) == 2  # handed, not yet written
    adapter.replies[0].sent()
    assert [r.target for r in store.pending()] == ["#a"]
    clock.advance(1)
    assert len(adapter.replies) == 2  # the unwritten one is not handed twice


@pytest_twisted.ensureDeferred
async def test_rows_beyond_the_in_flight_limit_wait_without_becoming_a_digest(tmp_path):
    store, relay = setup([sub("#a", "package", "bash")], tmp_path)
    await relay.handle([build_change(n, "bash", 1) for n in range(1, 61)])
    clock, adapter = Clock(), Recorder(auto=False)
    pump = OutboxPump(store, {"irc": adapter}, coalesce=1000, window=10, reactor=clock,
                      clock=clock.seconds)
    pump.pump()
    assert len(adapter.replies) == 50  # the in-flight limit
    for reply in list(adapter.replies):
        reply.sent()
    clock.advance(AFTER_WRITTEN)  # the written lines share one look
    lines = adapter.lines()
    assert len(lines) == 60 and not [text for _, text in lines if "builds completed" in text]
