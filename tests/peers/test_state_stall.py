"""A slow or locked PostgreSQL never stops chat, the bus or /healthz, and never costs the
lead; a database that stops answering does, and what was asked is not dropped silently.

The installed kojibot with PostgreSQL state, against the real Koji hub, ngircd, RabbitMQ and
the machine's PostgreSQL; another session holds ``LOCK TABLE ... IN ACCESS EXCLUSIVE MODE``
on each of the bot's tables in turn (what a migration or ``VACUUM FULL`` does), or the
database sits behind a proxy on loopback (tests/dbproxy.py) that delays or stalls it."""

from __future__ import annotations

import itertools
import json
import re
import time

import psycopg
import pytest
import pytest_twisted
from twisted.internet import reactor, task, threads

from kojibot.state.store import Subscription
from tests import ircd
from tests.busmessages import FEDORA_BUILD, count_events, fedora_build, lines_from, publish
from tests.dbproxy import DelayProxy
from tests.ircuser import IRCUser
from tests.peers.test_health_e2e import fetch
from tests.peers.test_installed_bot import hub_section, said
from tests.statedb import tables

LOCK_SECONDS = 12.0  # twice lease_seconds: a lock that outlasts a lease term
_names = itertools.count(1)
# The tables the bot queries while it runs, and what makes it write each one during the lock
# (schema_version is read only at start). The events of every lock reach outbox,
# relayed_event, id_counter and lease; a "turnpkg" event's broken/fixed check, build_outcome.
WRITERS = {"subscription": ("!subscribe package lockpkg", r"Subscribed: package lockpkg"),
           "person": ("!iam alice", r"Linked \w+ to Koji user alice"),
           "alert": ("!alerts package lockpkg", r"Alert on: a DM for package lockpkg"),
           "watch": ("!watch {building}", r"Watching: Task {building} "),
           "outbox": None, "relayed_event": None, "id_counter": None, "lease": None,
           "build_outcome": None}


@pytest.fixture(scope="module")
def quick_ngircd():
    """ngircd without its flood penalty: an answer's delay is the bot's, not the server's."""
    server = ircd.start(ircd.UnthrottledNgIRCd)
    yield server
    ircd.cleanup(server)


def sleep(seconds: float):
    return task.deferLater(reactor, seconds, lambda: None)


def config(url: str, nick: str, channel: str, queue: str, rabbitmq, ngircd, kojihub,
           port: int) -> str:
    return (f"[bot]\nnick = {nick}\nstate = {url}\nlease_seconds = 6\nrate = 1000\n"
            "digest_after = 100\n" + hub_section(kojihub)
            + f"[irc]\nhost = 127.0.0.1\nport = {ngircd.port}\ntls = no\nchannels = {channel}\n"
            "line_rate = 20\nburst = 40\n"
            f"[amqp]\nurl = {rabbitmq.url}\nqueue = {queue}\nprefetch = 100\n"
            f"[metrics]\nlisten = 127.0.0.1:{port}\n")


def seed(url: str, channel: str) -> None:
    seeding = tables(url)
    seeding.subscribe(Subscription("irc", channel, "package", "stallpkg",
                                   frozenset({"complete"})))
    seeding.subscribe(Subscription("irc", channel, "package", "turnpkg",
                                   frozenset({"broken", "fixed"})))
    seeding.db.close()


async def asked(user, channel: str, nick: str, line: str, answer: str,
                timeout: float = 10) -> float:
    """Say *line* in *channel*; seconds until the bot's answer matching *answer*."""
    start = time.monotonic()
    user.say(channel, line)
    await said(user, nick, answer, timeout=timeout)
    return time.monotonic() - start


def hold_lock(url: str, table: str) -> psycopg.Connection:
    """Another session's exclusive lock on *table*, held until its commit()."""
    session = psycopg.connect(url, application_name="kojibot test lock")
    session.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    return session


async def started(installed, text: str, home) -> object:
    bot = installed.start(text, home, "--log-level", "info")
    await bot.wait_log(r"leading as term \d+", timeout=30)
    for line in ("signed on to", "consuming kojibot-"):  # in either order
        while line not in bot.log():
            assert bot.process.poll() is None, bot.log()
            await sleep(0.1)
    return bot


@pytest_twisted.ensureDeferred
async def test_a_table_lock_stops_no_command_no_probe_and_not_the_lead(
        installed, kojihub, quick_ngircd, rabbitmq, postgresql, tmp_path):
    ngircd = quick_ngircd
    postgresql.empty()
    n, port = next(_names), ircd.free_port()
    channel, nick = f"#stall-{n}", f"stalled{n}"
    seed(postgresql.url, channel)
    task_id = kojihub.facts["builds"]["complete"]["task_id"]
    building = kojihub.facts["builds"]["building"]["task_id"]
    user = await IRCUser.connect(ngircd.port, f"asker{n}")
    await user.join(channel)
    bot = await started(installed, config(postgresql.url, nick, channel, f"kojibot-stall-{n}",
                                          rabbitmq, ngircd, kojihub, port), tmp_path)
    reads = ((f"!task {task_id}", rf"Task {task_id} "), ("!help", "Commands: "),
             ("!subscriptions", "package stallpkg"))
    try:
        await user.wait_line(lambda h: h.command == "JOIN" and h.nick == nick, timeout=30)
        for _ in range(2):  # the second time, with the hub's answers warm
            baseline = {line: await asked(user, channel, nick, line, answer)
                        for line, answer in reads}
        events, slow = [], []
        for number, (table, writer) in enumerate(WRITERS.items()):
            session = await threads.deferToThread(hold_lock, postgresql.url, table)
            locked = time.monotonic()
            try:
                batch = [(FEDORA_BUILD, fedora_build(970000 + 10 * number + k, "stallpkg", 1))
                         for k in range(2)]
                batch.append((FEDORA_BUILD, fedora_build(980000 + number, "turnpkg", 1)))
                events += [json.loads(body)["build_id"] for _, body in batch[:2]]
                await threads.deferToThread(publish, rabbitmq.url, batch)
                if writer is not None:  # the reads below come while it waits
                    user.say(channel, writer[0].format(building=building))
                for line, answer in reads:
                    took = await asked(user, channel, nick, line, answer)
                    if took > baseline[line] + 1.0:
                        slow.append((table, line, took))
                await sleep(max(0.0, 8.0 - (time.monotonic() - locked)))
                probe = time.monotonic()
                status, body = await threads.deferToThread(fetch, port, "/healthz")
                assert time.monotonic() - probe < 2.0, f"/healthz slow during the {table} lock"
                assert status == 503 and "state database" in body, (table, status, body)
                await sleep(max(0.0, LOCK_SECONDS - (time.monotonic() - locked)))
            finally:
                await threads.deferToThread(session.commit)
                session.close()
            if writer is not None:  # answered once the lock is gone
                await said(user, nick, writer[1].format(building=building), timeout=15)
        assert slow == [], f"answers more than 1 s slower than unlocked: {slow}"
        deadline = reactor.seconds() + 60
        while count_events(lines_from(user, nick), "stallpkg")[0] < len(events):
            assert reactor.seconds() < deadline, lines_from(user, nick)
            await sleep(0.5)
        await sleep(2)  # nothing more comes
        total, names = count_events(lines_from(user, nick), "stallpkg")
        assert total == len(events) and len(names) == len(set(names)) == len(events)
        assert {int(re.search(r"-(\d+)\.fc41", name).group(1)) for name in names} == set(events)
        assert postgresql.query("SELECT kind, pattern FROM subscription WHERE pattern ="
                                " 'lockpkg'") == [("package", "lockpkg")]
        assert postgresql.query("SELECT koji_user FROM person WHERE koji_user = 'alice'")
        assert postgresql.query("SELECT pattern FROM alert") == [("lockpkg",)]
        assert postgresql.query("SELECT ref FROM watch") == [(building,)]
        assert postgresql.query("SELECT count(*) FROM outbox") == [(0,)]
        status, body = await threads.deferToThread(fetch, port, "/healthz")
        assert status == 200, body
        assert bot.process.poll() is None and "lost the lead" not in bot.log()
    finally:
        await bot.stop()
        await user.quit()


def behind(url: str, port: int) -> str:
    return re.sub(r"@127\.0\.0\.1:\d+/", f"@127.0.0.1:{port}/", url)


@pytest_twisted.ensureDeferred
async def test_a_database_50_ms_away_relays_every_event_and_keeps_the_lead(
        installed, kojihub, ngircd, rabbitmq, postgresql, tmp_path):
    postgresql.empty()
    n, port = next(_names), ircd.free_port()
    channel, nick = f"#far-{n}", f"farbot{n}"
    seed(postgresql.url, channel)
    proxy = DelayProxy("127.0.0.1", 5432, delay=0.025)
    url = behind(postgresql.url, await proxy.start())
    user = await IRCUser.connect(ngircd.port, f"farwatch{n}")
    await user.join(channel)
    bot = await started(installed, config(url, nick, channel, f"kojibot-far-{n}", rabbitmq,
                                          ngircd, kojihub, port)
                        .replace("digest_after = 100", "digest_after = 5"), tmp_path)
    try:
        await user.wait_line(lambda h: h.command == "JOIN" and h.nick == nick, timeout=30)
        events = [(FEDORA_BUILD, fedora_build(990000 + k, "stallpkg", 1)) for k in range(200)]
        await threads.deferToThread(publish, rabbitmq.url, events)
        took = await asked(user, channel, nick, "!help", "Commands: ", timeout=5)
        assert took < 2.0, f"!help took {took:.1f} s while 200 events were being relayed"
        deadline = reactor.seconds() + 120
        while count_events(lines_from(user, nick), "stallpkg")[0] < 200:
            assert reactor.seconds() < deadline, count_events(lines_from(user, nick),
                                                              "stallpkg")[0]
            await sleep(0.5)
        total, names = count_events(lines_from(user, nick), "stallpkg")
        assert total == 200 and len(names) == len(set(names))
        assert bot.process.poll() is None and "lost the lead" not in bot.log()
    finally:
        await bot.stop()
        await proxy.stop()
        await user.quit()


@pytest_twisted.ensureDeferred
async def test_a_database_that_stops_answering_hands_the_lead_over_and_says_so(
        installed, kojihub, ngircd, rabbitmq, postgresql, tmp_path):
    """The lead reaches PostgreSQL through a proxy that stalls (the database as the lead sees
    it is down); the standby reaches it directly. A command the lead heard and could not
    answer gets one line saying the bot is restarting; the lead exits with status 3 and the
    standby leads and answers."""
    postgresql.empty()
    n = next(_names)
    channel, nick = f"#down-{n}", f"downbot{n}"
    seed(postgresql.url, channel)
    proxy = DelayProxy("127.0.0.1", 5432)
    url = behind(postgresql.url, await proxy.start())
    user = await IRCUser.connect(ngircd.port, f"downwatch{n}")
    await user.join(channel)
    text = config(url, nick, channel, f"kojibot-down-{n}", rabbitmq, ngircd, kojihub,
                  ircd.free_port())
    lead = await started(installed, text, tmp_path / "lead")
    standby = installed.start(text.replace(url, postgresql.url), tmp_path / "standby",
                              "--log-level", "info")
    try:
        await standby.wait_log(r"waiting for the lead", timeout=30)
        await user.wait_line(lambda h: h.command == "JOIN" and h.nick == nick, timeout=30)
        proxy.stall()
        stalled = time.monotonic()
        user.say(channel, "!subscribe package downpkg")  # a write: it waits on the database
        line = await said(user, nick, r"restarting", timeout=20)
        assert line == f"downwatch{n}: kojibot is restarting and did not answer that; " \
                       "please ask again in a minute."
        deadline = reactor.seconds() + 15
        while lead.process.poll() is None:
            assert reactor.seconds() < deadline, "the lead did not step down"
            await sleep(0.2)
        assert lead.process.returncode == 3
        assert "lost the lead" in lead.log()
        stepped = time.monotonic() - stalled
        assert 4.0 <= stepped < 15.0, f"stepped down {stepped:.1f} s after the stall"
        await standby.wait_log(r"leading as term \d+", timeout=30)
        joined = await user.wait_line(lambda h: h.command == "JOIN"
                                      and h.nick.startswith(nick), timeout=30)
        await asked(user, channel, joined.nick, "!help", "Commands: ", timeout=10)
    finally:
        proxy.flow()
        lead.kill()
        await standby.stop()
        await proxy.stop()
        await user.quit()
