"""Relay and outbox on SQLite and PostgreSQL without a broker or chat server: deliveries are
made here, the adapter is tests/recording.py's (IRC/Matrix run for real in test_relay_e2e.py)."""

import json

import pytest_twisted
from twisted.internet.task import Clock

from kojibot.bus.consumer import Delivery
from kojibot.relay.matching import SubscriptionIndex
from kojibot.relay.outbox import AFTER_WRITTEN, OutboxPump
from kojibot.relay.router import Relay
from kojibot.state.store import Store
from kojibot.wording.eventnames import EVENTS
from tests.busmessages import FEDORA_BUILD, fedora_build
from tests.recording import RecordingAdapter
from tests.statedb import advance, settled, tables
from tests.unit.kojibot.relay.test_matching import sub
from txkoji.testing import HubDouble

WEB = "https://koji.example.test/koji"


def build_change(build_id, name, new, old=0, owner="alice"):
    return Delivery(FEDORA_BUILD, {}, fedora_build(build_id, name, new, owner=owner, old=old),
                    build_id, False, message_id=f"m-{build_id}-{new}")


def setup(subs, state):
    seeding = tables(state)
    for each in subs:
        seeding.subscribe(each)
    seeding.db.close()
    store = Store(state)
    index = SubscriptionIndex(store.at_open.subscriptions)
    koji = HubDouble().connection(weburl=WEB)  # events name their owners: no call is made
    return store, Relay(store, index, koji)


@pytest_twisted.ensureDeferred
async def test_matching_event_is_queued_once_per_room(state):
    store, relay = setup([sub("#a", "package", "bash"), sub("#a", "owner", "alice"),
                          sub("#b", "package", "python-*"), sub("#c", "tag", "f41")], state)
    outcomes = await relay.handle([build_change(7, "bash", 1),
                                   build_change(8, "python-x", 3, owner="carol"),
                                   build_change(9, "gcc", 1, owner="bob")])
    assert outcomes == ["ack", "ack", "ack"]
    rows = [(r.target, r.message) for r in (await store.pending())]
    assert [target for target, _ in rows] == ["#a", "#b"]  # #a once, though matched twice
    line = "".join(p if isinstance(p, str) else p["text"] for p in rows[0][1])
    assert line == (f"bash-1.0-7.fc41 COMPLETE (was BUILDING) by alice, took 25m 10s — "
                    f"{WEB}/buildinfo?buildID=7")


@pytest_twisted.ensureDeferred
async def test_redelivery_is_not_queued_twice(state):
    store, relay = setup([sub("#a", "package", "bash")], state)
    await relay.handle([build_change(7, "bash", 1)])
    await relay.handle([build_change(7, "bash", 1)])
    assert len(await store.pending()) == 1


@pytest_twisted.ensureDeferred
async def test_event_filters(state):
    store, relay = setup([sub("#a", "package", "bash"),
                          sub("#all", "package", "bash", EVENTS)], state)
    await relay.handle([build_change(7, "bash", 0, old=None)])  # started
    assert [r.target for r in (await store.pending())] == ["#all"]


@pytest_twisted.ensureDeferred
async def test_malformed_is_rejected_and_the_rest_delivered(state):
    store, relay = setup([sub("#a", "package", "bash")], state)
    bad = Delivery(FEDORA_BUILD, {}, b"{not json", 1, False)
    wrong = Delivery("koji.build.complete", {}, b"\xff\xfe\x00garbage", 2, False)
    outcomes = await relay.handle([bad, build_change(7, "bash", 1), wrong])
    assert outcomes == ["reject", "ack", "reject"]
    assert len(await store.pending()) == 1


@pytest_twisted.ensureDeferred
async def test_subscriptions_survive_a_restart(state):
    store, _ = setup([sub("#a", "package", "python-*")], state)
    store.close()
    again = Store(state)
    index = SubscriptionIndex(again.at_open.subscriptions)
    assert [s.room for s in index.match("package", "python-six", "failed")] == ["#a"]


def pump_for(store, adapter, clock):
    return OutboxPump(store, {"irc": adapter}, coalesce=5, window=10, reactor=clock,
                      clock=clock.seconds)


@pytest_twisted.ensureDeferred
async def test_burst_becomes_five_lines_and_one_digest(state):
    store, relay = setup([sub("#a", "package", "bash")], state)
    await relay.handle([build_change(n, "bash", 1) for n in range(1, 13)])
    clock, adapter = Clock(), RecordingAdapter()
    pump = pump_for(store, adapter, clock)
    pump.pump()
    await settled(store, pump)
    assert len(adapter.replies) == 5
    await advance(clock, 10, store, pump)
    lines = adapter.lines()
    assert len(lines) == 6 and (await store.pending()) == []
    assert lines[5] == ("#a", "7 builds completed: bash-1.0-6.fc41, bash-1.0-7.fc41, "
                              "bash-1.0-8.fc41 +4 more")


@pytest_twisted.ensureDeferred
async def test_rows_wait_for_the_network_and_stay_until_written(state):
    store, relay = setup([sub("#a", "package", "bash")], state)
    await relay.handle([build_change(1, "bash", 1), build_change(2, "bash", 3)])
    clock, adapter = Clock(), RecordingAdapter(ready=False, auto=False)
    pump = pump_for(store, adapter, clock)
    pump.pump()
    await settled(store, pump)
    assert adapter.replies == []
    await advance(clock, 60, store, pump)
    assert adapter.replies == [] and clock.getDelayedCalls() == []  # no polling meanwhile
    adapter.ready = True
    await advance(clock, 0, store, pump)  # the network's return wakes the outbox at once
    # handed, not yet written
    assert len(adapter.replies) == 2 and len(await store.pending()) == 2
    adapter.replies[0].sent()
    await settled(store, pump)
    assert [r.target for r in (await store.pending())] == ["#a"]
    await advance(clock, 1, store, pump)
    assert len(adapter.replies) == 2  # the unwritten one is not handed twice


@pytest_twisted.ensureDeferred
async def test_rows_beyond_the_in_flight_limit_wait_without_becoming_a_digest(state):
    store, relay = setup([sub("#a", "package", "bash")], state)
    await relay.handle([build_change(n, "bash", 1) for n in range(1, 61)])
    clock, adapter = Clock(), RecordingAdapter(auto=False)
    pump = OutboxPump(store, {"irc": adapter}, coalesce=1000, window=10, reactor=clock,
                      clock=clock.seconds)
    pump.pump()
    await settled(store, pump)
    assert len(adapter.replies) == 50  # the in-flight limit
    for reply in list(adapter.replies):
        reply.sent()
    await settled(store, pump)
    await advance(clock, AFTER_WRITTEN, store, pump)  # the written lines share one look
    lines = adapter.lines()
    assert len(lines) == 60 and not [text for _, text in lines if "builds completed" in text]


@pytest_twisted.ensureDeferred
async def test_broken_and_fixed_are_the_turns_of_a_packages_outcome(state):
    store, relay = setup([sub("#turns", "package", "bash", {"broken", "fixed"}),
                          sub("#fails", "package", "bash", {"failed"})], state)
    sequence = [(1, 1), (2, 3), (3, 3), (4, 1), (5, 1), (6, 3)]  # (build id, new state)
    for build_id, new in sequence:
        await relay.handle([build_change(build_id, "bash", new)])
    await relay.handle([build_change(2, "bash", 3)])  # a redelivery changes nothing
    turns = [(r.target, r.message[0]["text"]) for r in await store.pending()
             if r.target == "#turns"]
    assert turns == [("#turns", "bash-1.0-2.fc41"), ("#turns", "bash-1.0-4.fc41"),
                     ("#turns", "bash-1.0-6.fc41")]
    assert len([r for r in (await store.pending()) if r.target == "#fails"]) == 3
    assert await store.note_outcome("bash", "", 6, "FAILED") == "COMPLETE"
    assert await store.note_outcome("bash", "", 5, "FAILED") is None  # older news


@pytest_twisted.ensureDeferred
async def test_package_list_changes_reach_packages_subscriptions(state):
    store, relay = setup([sub("#pl", "packages", "python-*", {"blocked", "added"}),
                          sub("#builds", "package", "python-*", EVENTS)], state)

    def change(action, n):
        body = json.dumps({"tag": "f41", "package": "python-six", "action": action,
                           "owner": "alice", "user": "releng", "instance": "primary"})
        return Delivery("org.fedoraproject.prod.buildsys.package.list.change", {},
                        body.encode(), n, False, message_id=f"pl-{n}")

    await relay.handle([change("add", 1), change("unblock", 2), change("block", 3)])
    lines = ["".join(p if isinstance(p, str) else p["text"] for p in r.message)
             for r in (await store.pending())]
    assert [r.target for r in (await store.pending())] == ["#pl", "#pl"]
    assert lines == [f"python-six added to f41 by releng (owner alice) — "
                     f"{WEB}/packageinfo?packageID=python-six",
                     f"python-six blocked in f41 by releng — "
                     f"{WEB}/packageinfo?packageID=python-six"]


