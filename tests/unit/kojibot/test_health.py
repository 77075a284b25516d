"""What /healthz and the outbox figures are made of, without sockets: the outbox pump's
depth, oldest row and progress on a large backlog, and the reasons ``health.problems``
gives. The HTTP side, against real peers, is in test_health_e2e.py."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest_twisted
from twisted.internet.task import Clock

from kojibot.health import problems
from kojibot.relay.outbox import DIGEST_MAX, OutboxPump
from kojibot.state.store import Store
from tests.recording import RecordingAdapter
from tests.statedb import advance, backlog, settled


@pytest_twisted.ensureDeferred
async def test_a_backlog_larger_than_a_digest_drains_in_capped_digests(tmp_path):
    store = Store(str(tmp_path / "s.sqlite3"), clock=lambda: 0.0)
    await backlog(store, 2 * DIGEST_MAX + 10)
    clock, adapter = Clock(), RecordingAdapter()
    pump = OutboxPump(store, {"irc": adapter}, coalesce=5, window=10, reactor=clock,
                      clock=clock.seconds)
    pump.pump()
    await settled(store, pump)
    assert len(adapter.replies) == 5 and pump.depth == 2 * DIGEST_MAX + 5  # 5 written
    for _ in range(10):
        await advance(clock, 10, store, pump)
    counts = [int(re.match(r"(\d+) builds", line).group(1)) if " builds " in line else 1
              for _, line in adapter.lines()]
    assert sum(counts) == 2 * DIGEST_MAX + 10 == pump.sent
    assert max(counts) == DIGEST_MAX
    assert (await store.pending()) == [] and pump.depth == 0


@pytest_twisted.ensureDeferred
async def test_problems_name_what_is_down_and_an_outbox_that_does_not_move(tmp_path):
    store = Store(str(tmp_path / "s.sqlite3"), clock=lambda: 0.0)
    clock = Clock()
    irc, matrix = RecordingAdapter(auto=False), RecordingAdapter(ready=False)
    adapters = {"irc": irc, "matrix": matrix}
    pump = OutboxPump(store, adapters, reactor=clock, clock=clock.seconds)
    consumer = SimpleNamespace(consuming=False, broker="amqp://127.0.0.1:5672/%2F")
    bot = SimpleNamespace(adapters=adapters, consumer=consumer, outbox=pump, store=store)
    assert problems(bot, 60) == ["matrix: disconnected",
                                 "bus amqp://127.0.0.1:5672/%2F: not consuming"]
    matrix.ready, consumer.consuming = True, True
    await backlog(store, 3)
    pump.pump()
    await settled(store, pump)
    await advance(clock, 59, store, pump)
    assert problems(bot, 60) == []  # handed to IRC, not written yet: not for long
    await advance(clock, 2, store, pump)
    assert problems(bot, 60) == ["outbox: nothing sent to irc for 61 s with lines waiting "
                                 "since 61 s"]
    irc.replies[0].sent()
    await settled(store, pump)
    assert problems(bot, 60) == []
    assert pump.depth == 2 and pump.sent == 1
