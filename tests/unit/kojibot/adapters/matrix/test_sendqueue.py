"""The Matrix send queues' two lanes, without a homeserver: ``send`` is a plain coroutine
that records each try (the real sends are in test_bot_matrix.py and test_matrix_resend.py)."""

from __future__ import annotations

import pytest_twisted
from twisted.internet import defer, reactor

from kojibot.adapters.matrix.sendqueue import SendQueues
from tests.busmessages import until


@pytest_twisted.ensureDeferred
async def test_an_answer_overtakes_the_relayed_lines_waiting_in_its_room():
    tried: list[str] = []
    first = defer.Deferred()

    async def send(item: str) -> None:
        tried.append(item)
        if item == "relayed 1":
            await first  # the homeserver is slow to answer this one

    done: list[str] = []
    queues: SendQueues[str] = SendQueues(
        send, finished=done.append, when_ready=lambda: defer.succeed(None),
        is_ready=lambda: True, retry_policy=lambda n: 0.1, clock=reactor)
    queues.start()
    for n in (1, 2, 3):
        queues.put("!room", f"relayed {n}")
    queues.put("!room", "answer", urgent=True)
    assert queues.drop("!other") == [] and len(queues) == 4
    await until(lambda: tried == ["relayed 1"], 5)
    first.callback(None)
    await until(lambda: len(done) == 4, 5)
    assert done == ["relayed 1", "answer", "relayed 2", "relayed 3"]
    queues.stop()


@pytest_twisted.ensureDeferred
async def test_leaving_a_room_drops_what_waits_but_not_the_send_under_way():
    held = defer.Deferred()

    async def send(item: str) -> None:
        await held

    done: list[str] = []
    queues: SendQueues[str] = SendQueues(
        send, finished=done.append, when_ready=lambda: defer.succeed(None),
        is_ready=lambda: True, retry_policy=lambda n: 0.1, clock=reactor)
    queues.start()
    queues.put("!room", "relayed")
    queues.put("!room", "answer", urgent=True)
    assert sorted(queues.drop("!room")) == ["answer"]  # "relayed" went first, is under way
    held.callback(None)
    await until(lambda: done == ["relayed"], 5)
    queues.stop()
