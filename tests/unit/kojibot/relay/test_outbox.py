"""The outbox pump on an SQLite file and a Clock: at most ``coalesce`` lines per room per
window, the rest of the window as one digest at its end, nothing dropped, nothing handed
twice. The store answers on threads of its own: ``settled`` waits for it."""

from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet.task import Clock

from kojibot.relay.outbox import AFTER_WRITTEN, IN_FLIGHT, OutboxPump, txn_id
from kojibot.state.records import OutboxEntry
from kojibot.state.store import OutboxRow, Store
from tests.recording import RecordingAdapter
from tests.statedb import advance, backlog, settled


@pytest.fixture
def store(tmp_path):
    opened = Store(str(tmp_path / "state.sqlite3"), clock=lambda: 0.0)
    yield opened
    opened.close()


async def started(store, adapter, coalesce=5, window=10):
    clock = Clock()
    pump = OutboxPump(store, {"irc": adapter}, coalesce=coalesce, window=window,
                      reactor=clock, clock=clock.seconds)
    pump.pump()
    await settled(store, pump)
    return clock, pump


@pytest_twisted.ensureDeferred
async def test_a_burst_is_five_lines_then_one_digest_when_the_window_ends(store):
    await backlog(store, 8)
    adapter = RecordingAdapter()
    clock, pump = await started(store, adapter)
    assert adapter.said == [f"pkg{n}-1-1 COMPLETE" for n in range(5)]
    await advance(clock, 9.9, store, pump)
    assert len(adapter.said) == 5  # the digest waits for the window's end
    await advance(clock, 0.1, store, pump)
    assert adapter.said[5:] == ["3 builds completed: pkg5-1-1, pkg6-1-1, pkg7-1-1"]
    assert pump.sent == 8 and (await store.pending()) == []


@pytest_twisted.ensureDeferred
async def test_one_row_left_at_the_windows_end_goes_as_itself_not_as_a_digest(store):
    await backlog(store, 6)
    adapter = RecordingAdapter()
    clock, pump = await started(store, adapter)
    await advance(clock, 10, store, pump)
    assert adapter.said[5:] == ["pkg5-1-1 COMPLETE"]


@pytest_twisted.ensureDeferred
async def test_each_room_is_paced_on_its_own_and_a_dm_stays_a_dm(store):
    await backlog(store, 6, room="#a")
    await backlog(store, 2, room="alice", start=100, direct=True)
    adapter = RecordingAdapter()
    await started(store, adapter)
    by_room = {}
    for reply in adapter.replies:
        by_room.setdefault((reply.target.name, reply.target.direct), []).append(reply)
    assert {room: len(replies) for room, replies in by_room.items()} == {
        ("#a", False): 5, ("alice", True): 2}


@pytest_twisted.ensureDeferred
async def test_lines_wait_for_a_network_that_is_down_without_polling(store):
    await backlog(store, 3)
    adapter = RecordingAdapter(ready=False)
    clock, pump = await started(store, adapter)
    assert adapter.replies == [] and clock.getDelayedCalls() == []
    adapter.ready = True
    await advance(clock, 0, store, pump)
    assert adapter.said == [f"pkg{n}-1-1 COMPLETE" for n in range(3)]


@pytest_twisted.ensureDeferred
async def test_a_line_handed_over_but_not_written_stays_queued_and_is_not_handed_again(store):
    await backlog(store, 2)
    adapter = RecordingAdapter(auto=False)
    clock, pump = await started(store, adapter)
    assert len(adapter.replies) == 2
    adapter.replies[0].sent()
    await advance(clock, 60, store, pump)
    assert len(adapter.replies) == 2  # the unwritten one is in flight, not sent twice
    assert [row.summary for row in await store.pending()] == ["builds completed\tpkg1-1-1"]
    assert pump.sent == 1


@pytest_twisted.ensureDeferred
async def test_no_more_than_the_in_flight_limit_waits_for_the_chat_server(store):
    await backlog(store, 3 * IN_FLIGHT, room="#a")
    await backlog(store, 3 * IN_FLIGHT, room="#b", start=1000)
    adapter = RecordingAdapter(auto=False)
    clock, pump = await started(store, adapter, coalesce=10 * IN_FLIGHT)
    assert len(adapter.replies) == IN_FLIGHT
    for reply in adapter.replies[:10]:
        reply.sent()
    await settled(store, pump)  # the written rows' deletes land, then a look is due
    await advance(clock, AFTER_WRITTEN, store, pump)
    assert len(adapter.replies) == IN_FLIGHT + 10


def builds(store, state: str, numbers, key: str):
    """Queue one line per build in *numbers*, each updating chat line ``build N``."""
    return store.record_events([(f"{key}{n}", [OutboxEntry(
        "matrix", "#a", False, f"builds {state}\tpkg{n}-1-1", [f"pkg{n}-1-1 {state}"],
        f"build {n}")]) for n in numbers])


@pytest_twisted.ensureDeferred
async def test_ends_whose_start_line_is_posted_go_as_edits_and_only_the_rest_make_the_digest(
        store):
    """A network that edits (Matrix) remembers each posted line; an edit adds no line to
    the room, so the window's end sends those rows as themselves."""
    await builds(store, "started", range(3), "s")
    adapter = RecordingAdapter("matrix")
    clock = Clock()
    pump = OutboxPump(store, {"matrix": adapter}, reactor=clock, clock=clock.seconds)
    pump.pump()
    await settled(store, pump)
    for n, reply in enumerate(adapter.replies):
        reply.line.posted(f"!room:hs $start{n}")
    await builds(store, "completed", range(8), "e")
    pump.kick()  # as the relay does after queueing
    await advance(clock, 0, store, pump)
    assert adapter.said[3:] == ["pkg0-1-1 completed", "pkg1-1-1 completed"]  # 5 per window
    await advance(clock, 10, store, pump)
    ends = adapter.replies[5:]
    assert [(reply.message.plain(), reply.line.key) for reply in ends[:-1]] == [
        ("pkg2-1-1 completed", "build 2")]
    assert ends[-1].message.plain() == \
        "5 builds completed: pkg3-1-1, pkg4-1-1, pkg5-1-1 +2 more"
    assert (await store.pending()) == [] and pump.sent == 11


def test_a_retry_names_the_same_rows_the_same_way():
    """The chat server drops a resent transaction, so a retry must not look new; a state
    database started afresh reuses row ids, so the first row's time tells them apart."""
    rows = [OutboxRow(7, "irc", "#a", False, "s", "[]", 1.5),
            OutboxRow(8, "irc", "#a", False, "s", "[]", 1.5)]
    assert txn_id(rows) == txn_id(list(rows))
    assert txn_id(rows).startswith("kojibot-7-2-")
    assert txn_id(rows) != txn_id(rows[:1])
    assert txn_id(rows) != txn_id([OutboxRow(7, "irc", "#a", False, "s", "[]", 2.5), rows[1]])
