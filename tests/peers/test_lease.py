"""The lead lease on the machine's real PostgreSQL, in one process: handing over on release,
a hung lead losing the lead (PostgreSQL ends its idle session) after it stopped sending,
store writes fenced by the term, a standby waiting out an unreachable database, and the IRC
adapter holding replies back while it may not send (real ngircd)."""

from __future__ import annotations

import time

import pytest
import pytest_twisted
from twisted.internet import defer, reactor

from kojibot.adapters.irc.network import IRCAdapter, IRCSettings
from kojibot.chat.message import text
from kojibot.chat.model import Reply, Target
from kojibot.state.lease import Lease
from kojibot.state.store import LeaseLost, OutboxEntry, Store
from tests.busmessages import until
from tests.ircuser import IRCUser
from tests.unit.kojibot.state.test_lease import SECONDS, sleep


def lease(postgresql, losses: list[str] | None = None) -> Lease:
    """A lease on the test database; each time it steps down, "lost" goes to *losses*."""
    record = losses if losses is not None else []
    return Lease(postgresql.url, seconds=SECONDS, on_lost=lambda: record.append("lost"))


@pytest_twisted.ensureDeferred
async def test_a_standby_leads_once_the_lead_lets_go_with_the_next_term(postgresql):
    postgresql.empty()
    first, second = lease(postgresql), lease(postgresql)
    assert await first.acquire() == 1 and first.holds()
    waiting = defer.ensureDeferred(second.acquire())
    await sleep(2 * SECONDS)  # several renewals: the lead keeps it
    assert not waiting.called and first.holds()
    released = time.monotonic()
    first.release()
    assert await waiting.addTimeout(3, reactor) == 2
    assert time.monotonic() - released < 1.5 and not first.holds()
    assert postgresql.query("SELECT term FROM lease") == [(2,)]
    second.release()


@pytest_twisted.ensureDeferred
async def test_a_hung_lead_stops_sending_before_the_standby_leads(postgresql):
    postgresql.empty()
    losses: list[str] = []
    first, second = lease(postgresql, losses), lease(postgresql)
    await first.acquire()
    waiting = defer.ensureDeferred(second.acquire())
    time.sleep(SECONDS + 1)  # the whole process hangs (as under SIGSTOP)
    assert not first.holds(), "a hung lead must not send once it may have lost the lead"
    assert await waiting.addTimeout(SECONDS + 2, reactor) == 2
    await until(lambda: losses, timeout=SECONDS)
    assert first.term is None and not first.holds()
    second.release()


@pytest_twisted.ensureDeferred
async def test_a_lead_whose_lock_connection_is_cut_steps_down_at_once(postgresql):
    postgresql.empty()
    losses: list[str] = []
    first = lease(postgresql, losses)
    await first.acquire()
    postgresql.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                     " WHERE application_name = 'kojibot lease'"
                     " AND datname = current_database()")  # not other runs' leases
    await until(lambda: losses, timeout=SECONDS)
    assert not first.holds()


@pytest_twisted.ensureDeferred
async def test_store_writes_of_a_lead_that_lost_its_term_are_refused(postgresql):
    postgresql.empty()
    losses: list[str] = []
    old, new = lease(postgresql, losses), lease(postgresql)
    await old.acquire()
    store = Store(postgresql.url)
    store.fence = old
    entry = OutboxEntry("irc", "#a", False, "one", ["one"])
    assert await store.record_events([("k1", [entry])]) == 1
    term = old.term
    old.release()
    old.term = term  # it does not know yet: a lead that woke up with its old term
    await new.acquire()
    with pytest.raises(LeaseLost):
        await store.record_events([("k2", [entry])])
    with pytest.raises(LeaseLost):
        await store.delivered([("irc", "#a", row.id) for row in await store.pending()])
    assert losses == ["lost"]
    assert [row.summary for row in await store.pending()] == ["one"]  # nothing written
    assert postgresql.query("SELECT key FROM relayed_event") == [("k1",)]
    store.fence = new
    await store.delivered([("irc", "#a", row.id) for row in await store.pending()])
    assert await store.pending() == []
    new.release()
    store.close()


@pytest_twisted.ensureDeferred
async def test_the_irc_adapter_holds_replies_while_it_may_not_send(ngircd):
    allowed = [False]
    adapter = IRCAdapter(IRCSettings(host="127.0.0.1", port=ngircd.port, tls=False,
                                     nick="gatedbot", channels=("#gated",)),
                         lambda incoming: None, may_send=lambda: allowed[0])
    user = await IRCUser.connect(ngircd.port, "gatewatch")
    await user.join("#gated")
    adapter.startService()
    try:
        await adapter.when_ready().addTimeout(20, reactor)
        sent: list[bool] = []
        adapter.deliver(Reply(Target("irc", "#gated"), text("held back"),
                              on_sent=lambda: sent.append(True)))
        await sleep(2.5)
        assert not [h for h in user.messages() if h.nick == "gatedbot"] and not sent
        allowed[0] = True
        heard = await user.wait_for(lambda h: h.nick == "gatedbot", timeout=5)
        assert heard.text == "held back" and sent == [True]
    finally:
        await adapter.stopService()
        await user.quit()
