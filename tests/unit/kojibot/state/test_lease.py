"""The lease with no database to hold it: a standby waits, saying why once."""

from __future__ import annotations

import pytest_twisted
from twisted.internet import defer, reactor, task
from twisted.logger import formatEvent, globalLogPublisher

from kojibot.state.lease import Lease

SECONDS = 2.0  # the shortest lease there is


def sleep(seconds: float) -> defer.Deferred:
    return task.deferLater(reactor, seconds, lambda: None)


@pytest_twisted.ensureDeferred
async def test_a_standby_waits_out_an_unreachable_database_saying_why_once():
    said: list[str] = []

    def observe(event):
        if event.get("log_namespace") == "kojibot.lease":
            said.append(formatEvent(event))
    globalLogPublisher.addObserver(observe)
    standby = Lease("postgresql://postgres@127.0.0.1:1/kojibot", seconds=SECONDS)
    waiting = defer.ensureDeferred(standby.acquire())
    try:
        await sleep(3.5)
        assert not waiting.called
    finally:
        waiting.cancel()
        globalLogPublisher.removeObserver(observe)
    waiting.addErrback(lambda failure: failure.trap(defer.CancelledError))
    assert said == [
        "waiting for the lead on the state database (standby)",
        'cannot reach the state database: connection failed: connection to server at '
        '"127.0.0.1", port 1 failed: Connection refused; retrying']
