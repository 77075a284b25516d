"""Which outbox rows edit a build's line, and how the outbox hands them out, on SQLite and
PostgreSQL (the ``state`` fixture): the line's first message, once posted, is in the state,
so a bot started afresh edits it too."""

import pytest_twisted
from twisted.internet.task import Clock

from kojibot.state.store import Store
from tests.peers.test_relay import build_change, pump_for, setup, sub
from tests.recording import RecordingAdapter
from tests.statedb import advance, settled


@pytest_twisted.ensureDeferred
async def test_a_builds_rows_name_its_line_unless_the_room_wants_lines(state):
    store, relay = setup([sub("#edit", "package", "bash", {"started", "complete", "deleted"}),
                          sub("#lines", "package", "bash", {"started", "complete", "lines"})],
                         state)
    await relay.handle([build_change(7, "bash", 0, old=None), build_change(7, "bash", 1),
                        build_change(7, "bash", 2, old=1)])
    rows = [(row.target, row.line) for row in await store.pending()]
    assert sorted(rows, key=str) == sorted([
        ("#edit", "build 7"), ("#edit", "build 7"), ("#edit", None),  # deleted: a new line
        ("#lines", None), ("#lines", None)], key=str)


@pytest_twisted.ensureDeferred
async def test_the_outbox_hands_a_line_whose_first_message_is_remembered(state):
    store, relay = setup([sub("#a", "package", "bash", {"started", "complete"})], state)
    await relay.handle([build_change(7, "bash", 0, old=None), build_change(7, "bash", 1)])
    clock, adapter = Clock(), RecordingAdapter(auto=False)
    pump = pump_for(store, adapter, clock)
    pump.pump()
    await settled(store, pump)
    start, end = adapter.replies
    assert start.line.key == end.line.key == "build 7"
    assert await start.line.posted_as() is None
    start.line.posted("!room:x $start")
    start.sent()
    await settled(store, pump)
    assert await end.line.posted_as() == "!room:x $start"
    store.close()
    again = Store(state)  # a restart
    assert await again.line_posted_as("irc", "#a", "build 7") == "!room:x $start"
    await again.forget_lines_before(again.clock() + 1)
    assert await again.line_posted_as("irc", "#a", "build 7") is None
    again.close()


@pytest_twisted.ensureDeferred
async def test_a_digest_is_a_new_line_and_edits_no_line(state):
    store, relay = setup([sub("#a", "package", "bash", {"complete"})], state)
    await relay.handle([build_change(n, "bash", 1) for n in range(1, 13)])
    clock, adapter = Clock(), RecordingAdapter()
    pump = pump_for(store, adapter, clock)
    pump.pump()
    await settled(store, pump)
    await advance(clock, 10, store, pump)
    assert [reply.line.key if reply.line else None for reply in adapter.replies] == [
        f"build {n}" for n in range(1, 6)] + [None]
    assert adapter.lines()[-1][1].startswith("7 builds completed: ")
