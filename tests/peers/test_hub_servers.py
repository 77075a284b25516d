"""txkoji and the bot against the hub served the ways production serves it (asyncio reactor).

Shapes (tests/hubservers.py), all on a clone of the seeded database: wsgiref (HTTP/1.0,
closes after every answer), apache2 + mod_wsgi (KeepAliveTimeout 2, MaxKeepAliveRequests
5) and nginx (keepalive_timeout 1 s) in front of apache. Expected values are read with
xmlrpc.client through the same server. tests/kojihub/network.py has the loopback relay
that stands in for what sits between a bot and its hub (a firewall that forgets idle
connections, a network that loses an answer) and the servers that misbehave.
"""

from __future__ import annotations

import random
import re
import time
import xmlrpc.client

import pytest
import pytest_twisted
from twisted.internet import defer, protocol, reactor, ssl
from twisted.internet import task as txtask
from twisted.logger import LogLevel, formatEvent, globalLogPublisher
from twisted.web import server

import txkoji
from kojibot import config
from kojibot.bot import Bot
from kojibot.chat.model import Incoming
from tests.kojihub.network import (
    BadGateway,
    HalfAnswer,
    HangUpAfterRequest,
    NoNames,
    Relay,
    Silent,
    listening,
)
from tests.recording import RecordingAdapter
from txkoji.transport import RELEARN_AFTER

# Idle gaps per shape: around and beyond the server's keep-alive timeout, where a kept
# connection is closed by the server just as (or before) the client reuses it.
GAPS = {"wsgiref": [0.3, 0.6], "apache": [1.9, 2.0, 2.05, 2.4],
        "nginx": [0.95, 1.0, 1.05, 1.4]}
CALLS = 200


def sleep(seconds: float) -> defer.Deferred:
    return txtask.deferLater(reactor, seconds, lambda: None)


class LogCapture:
    """Twisted log events seen while active (as a context manager)."""

    def __init__(self) -> None:
        self.events: list[dict] = []

    def __enter__(self) -> LogCapture:
        globalLogPublisher.addObserver(self.events.append)
        return self

    def __exit__(self, *exc) -> None:
        globalLogPublisher.removeObserver(self.events.append)

    def texts(self, level: LogLevel | None = None, namespace: str = "") -> list[str]:
        return [formatEvent(e) for e in self.events
                if (level is None or e.get("log_level") == level)
                and str(e.get("log_namespace", "")).startswith(namespace)]


def shape_server(request, shape: str):
    return request.getfixturevalue(f"{shape}_hub")


# -- 200 calls per shape ------------------------------------------------------------------


def call_specs(facts: dict) -> list[tuple[str, tuple, dict]]:
    """Read-only calls with deterministic answers, one of them a fault (code 1000)."""
    complete = facts["builds"]["complete"]
    return [
        ("getAPIVersion", (), {}),
        ("getTaskInfo", (complete["task_id"], True), {}),
        ("getBuild", (complete["id"],), {}),
        ("getUser", ("alice",), {}),
        ("listTagged", ("f41-updates",), {"latest": True}),
        ("getTaskChildren", (complete["task_id"], True), {}),
        ("getAverageBuildDuration", ("bash",), {}),
        ("getBuildTarget", ("f41",), {}),
        ("echo", (12345, None, "ünïcode <&>", [1.5, {"a": True}]), {}),
        ("getBuildTarget", ("no-such-target",), {"strict": True}),
    ]


def read_with_xmlrpc(proxy, spec) -> object:
    method, args, kwargs = spec
    params = (*args, {**kwargs, "__starstar": True}) if kwargs else args
    try:
        return getattr(proxy, method)(*params)
    except xmlrpc.client.Fault as fault:
        return ("fault", fault.faultCode)


def as_read(value) -> object:
    return ("fault", value.code) if isinstance(value, txkoji.KojiException) else value


class Load:
    """CALLS requests: single calls, MultiCalls and groups of 4 in flight, with idle gaps;
    counts failures and answers that differ from xmlrpc.client's."""

    def __init__(self, koji: txkoji.Connection, specs: list, expected: list, gaps: list):
        self.koji, self.specs, self.expected, self.gaps = koji, specs, expected, gaps
        self.requests = self.single = self.multi = 0
        self.failures: list[str] = []
        self.mismatches: list[str] = []

    async def one(self, index: int) -> None:
        method, args, kwargs = self.specs[index]
        try:
            got = await self.koji.raw_call(method, args, kwargs)
        except txkoji.KojiTransportError as exc:
            self.failures.append(str(exc))
            return
        except txkoji.KojiException as exc:
            got = exc
        self.check(index, as_read(got))

    async def multicall(self, indexes: list[int]) -> None:
        multicall = self.koji.MultiCall()
        for index in indexes:
            method, args, kwargs = self.specs[index]
            multicall.call(method, *args, **kwargs)
        try:
            results = await multicall()
        except txkoji.KojiTransportError as exc:
            self.failures.append(str(exc))
            return
        for index, value in zip(indexes, results.values, strict=True):
            self.check(index, as_read(value))

    def check(self, index: int, got) -> None:
        if got != self.expected[index]:
            self.mismatches.append(f"{self.specs[index][0]}: {got!r:.200}")

    async def run(self) -> None:
        rng = random.Random(20260105)
        gap_at = {CALLS * (n + 1) // (len(self.gaps) + 1): gap for n, gap in
                  enumerate(self.gaps)}
        count = len(self.specs)
        while self.requests < CALLS:
            for mark in [m for m in gap_at if m <= self.requests]:
                await sleep(gap_at.pop(mark))
            roll = rng.random()
            if roll < 0.55:
                await self.one(rng.randrange(count))
                self.single += 1
                self.requests += 1
            elif roll < 0.85:
                await self.multicall([rng.randrange(count) for _ in range(rng.randint(2, 8))])
                self.multi += 1
                self.requests += 1
            else:
                group = min(4, CALLS - self.requests)
                await defer.gatherResults([defer.Deferred.fromCoroutine(
                    self.one(rng.randrange(count))) for _ in range(group)])
                self.single += group
                self.requests += group


@pytest.mark.parametrize("shape", ["wsgiref", "apache", "nginx"])
@pytest_twisted.ensureDeferred
async def test_200_calls_with_idle_gaps_fail_none(request, shape, kojihub):
    hub = shape_server(request, shape)
    specs = call_specs(kojihub.facts)
    proxy = hub.proxy()
    expected = [read_with_xmlrpc(proxy, spec) for spec in specs]
    koji = txkoji.Connection(server=hub.url, weburl=kojihub.weburl)
    load = Load(koji, specs, expected, GAPS[shape])
    with LogCapture() as logs:
        started = time.monotonic()
        try:
            await load.run()
        finally:
            await koji.close()
        elapsed = time.monotonic() - started
    resent = [t for t in logs.texts(LogLevel.debug, "txkoji") if "sending it again" in t]
    print(f"\n{hub.name}: {load.requests} requests ({load.single} single, {load.multi} "
          f"MultiCalls), {len(load.failures)} failures, {len(resent)} resent, "
          f"{elapsed:.1f} s ({sum(GAPS[shape]):.1f} s idle)")
    assert load.requests == CALLS
    assert load.failures == [] and load.mismatches == []
    assert elapsed < sum(GAPS[shape]) + 10
    assert koji.transport.server_closes == (shape == "wsgiref")
    assert not logs.texts(LogLevel.warn, "txkoji")


@pytest_twisted.ensureDeferred
async def test_a_hub_that_closes_is_asked_again_later(wsgiref_hub):
    koji = txkoji.Connection(server=wsgiref_hub.url, retries=0)
    await koji.getAPIVersion()
    assert koji.transport.server_closes
    koji.transport.closes_since -= RELEARN_AFTER + 1  # as if that much time went by
    assert not koji.transport.server_closes
    for _ in range(10):  # the first on a connection that may be kept: it learns again
        await koji.getAPIVersion()
    assert koji.transport.server_closes
    await koji.close()


@pytest_twisted.ensureDeferred
async def test_kept_connections_are_reused_where_the_server_keeps_them(apache_hub, nginx_hub):
    """Reuse is still the rule: the servers' own access logs count requests per connection."""
    for hub, pattern in ((apache_hub, r"keepalive=([1-9])"), (nginx_hub, r"n=([2-9]|\d\d)")):
        log = hub.log.with_name("access.log")
        before = len(log.read_text().splitlines())
        koji = txkoji.Connection(server=hub.url)
        for _ in range(8):
            await koji.getAPIVersion()
        await koji.close()
        for _ in range(40):  # a server writes its access line just after the answer
            lines = log.read_text().splitlines()[before:]
            if len(lines) >= 8:
                break
            await sleep(0.05)
        assert len(lines) == 8
        assert sum(bool(re.search(pattern, line)) for line in lines) >= 4, lines


# -- logged-in calls ---------------------------------------------------------------------


async def admin(url: str, kojihub) -> txkoji.Connection:
    koji = txkoji.Connection(server=url, user="kojiadmin",
                             password=kojihub.users["kojiadmin"])
    await koji.login()
    return koji


@pytest_twisted.ensureDeferred
async def test_logged_in_calls_through_a_closing_server_keep_callnum(wsgiref_hub, kojihub):
    koji = await admin(wsgiref_hub.url, kojihub)
    names = [f"shapes-auth-{n}" for n in range(8)]
    try:
        for name in names[:4]:
            await koji.createTag(name)
            assert (await koji.getLoggedInUser())["name"] == "kojiadmin"
        multicall = koji.MultiCall()
        multicall.getLoggedInUser()
        multicall.getTag(names[0])
        me, tag = list(await multicall())
        assert me["name"] == "kojiadmin" and tag["name"] == names[0]
        # In flight at once: txkoji serializes them, each with the next callnum.
        await defer.gatherResults([koji.createTag(name) for name in names[4:]]
                                  + [koji.getLoggedInUser() for _ in range(8)])
        assert koji.session.callnum == 4 * 2 + 1 + 4 + 8
        proxy = wsgiref_hub.proxy()
        assert [proxy.getTag(name)["name"] for name in names] == names
        (stored,) = kojihub.sql(f"SELECT callnum FROM sessions WHERE id = "
                                f"{koji.session.id}", "koji_shapes")[0]
        assert int(stored) < koji.session.callnum
    finally:
        await koji.logout()
        await koji.close()


@pytest_twisted.ensureDeferred
async def test_a_lost_answer_is_resent_with_the_same_callnum(apache_hub, kojihub):
    """As koji's ClientSession does: the hub answers a resent read, and refuses to redo a
    change it already committed (RetryError) instead of doing it twice."""
    relay = Relay(apache_hub.port)
    koji = await admin(relay.url, kojihub)
    try:
        relay.lose_answers = 1
        assert (await koji.getLoggedInUser())["name"] == "kojiadmin"
        assert relay.lost == 1 and koji.session.callnum == 1
        relay.lose_answers = 1
        with pytest.raises(txkoji.RetryError) as info:
            await koji.createTag("shapes-retry")
        assert relay.lost == 2 and "createTag" in str(info.value)
        proxy = apache_hub.proxy()
        assert [t["name"] for t in proxy.listTags() if t["name"] == "shapes-retry"] == [
            "shapes-retry"]
        assert (await koji.getLoggedInUser())["name"] == "kojiadmin"
        assert koji.session.callnum == 3
    finally:
        await koji.logout()
        await koji.close()
        await relay.stop()


# -- idle connections and firewalls --------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_idle_bound_keeps_a_firewall_from_costing_a_timeout(apache_hub):
    """The relay forgets connections idle 1 s, as a firewall would (apache keeps them 2 s)."""
    relay = Relay(apache_hub.port, idle_drop=1.0)
    try:
        # An idle bound longer than the firewall's: the kept connection is dead, and the
        # call waits out its whole timeout. This is what the bound is for.
        careless = txkoji.Connection(server=relay.url, idle_timeout=10, timeout=2, retries=0)
        await careless.getAPIVersion()
        await sleep(1.3)
        started = time.monotonic()
        with pytest.raises(txkoji.KojiTimeout) as info:
            await careless.getAPIVersion()
        assert time.monotonic() - started >= 1.9
        assert str(info.value) == f"no answer in 2 s ({relay.url})"
        await careless.close()

        koji = txkoji.Connection(server=relay.url, idle_timeout=0.5, timeout=2)
        await koji.getAPIVersion()
        opened = relay.connections
        await sleep(1.3)
        started = time.monotonic()
        await koji.getAPIVersion()
        assert time.monotonic() - started < 0.5  # at most the idle bound, not the timeout
        assert relay.connections == opened + 1
        await koji.close()
    finally:
        await relay.stop()


def test_idle_bound_is_a_connection_setting_with_a_short_default():
    assert txkoji.Connection(server="http://hub.test/kojihub").transport.pool \
        .cachedConnectionTimeout == 15
    koji = txkoji.Connection(server="http://hub.test/kojihub", idle_timeout=4)
    assert koji.transport.pool.cachedConnectionTimeout == 4
    assert "idle_timeout" in txkoji.Connection.__doc__


# -- one-line error texts ----------------------------------------------------------------


def one_line(exc: Exception, url: str) -> str:
    said = str(exc)
    assert url in said and "\n" not in said
    assert "Failure" not in said and "<" not in said and "[" not in said, said
    return said


@pytest_twisted.ensureDeferred
async def test_refused():
    port = reactor.listenTCP(0, protocol.Factory(), interface="127.0.0.1")
    url = f"http://127.0.0.1:{port.getHost().port}/kojihub"
    await port.stopListening()
    koji = txkoji.Connection(server=url, retries=2, retry_interval=0.05)
    started = reactor.seconds()
    with pytest.raises(txkoji.KojiTransportError) as info:
        await koji.getTaskInfo(1)
    assert one_line(info.value, url) == f"connection refused ({url})"
    assert 0.15 <= reactor.seconds() - started < 5  # waited 0.05 + 0.1 between the 3 tries


@pytest.mark.parametrize(("server", "settings", "error", "message", "connections"), [
    (HangUpAfterRequest, {"retries": 2, "retry_interval": 0.01}, txkoji.KojiTransportError,
     "connection closed before any answer", 3),  # never answered: sent again, twice
    (HalfAnswer, {"retries": 2, "retry_interval": 0.01}, txkoji.KojiTransportError,
     "connection lost in the middle of the answer", 1),  # the hub acted: not sent again
    (Silent, {"timeout": 0.3}, txkoji.KojiTimeout, "no answer in 0.3 s", 1),
], ids=["closed-before-answering", "cut-answer", "timeout"])
@pytest_twisted.ensureDeferred
async def test_servers_that_fail_mid_call_are_named_in_one_line(server, settings, error, message,
                                                                connections):
    factory, port, url = listening(server)
    koji = txkoji.Connection(server=url, **settings)
    try:
        with pytest.raises(error) as info:
            await koji.getTaskInfo(1)
        assert one_line(info.value, url) == f"{message} ({url})"
        assert factory.connections == connections
    finally:
        await koji.close()
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_http_error_status():
    port = reactor.listenTCP(0, server.Site(BadGateway()), interface="127.0.0.1")
    url = f"http://127.0.0.1:{port.getHost().port}/kojihub"
    koji = txkoji.Connection(server=url)
    try:
        with pytest.raises(txkoji.KojiTransportError) as info:
            await koji.getTaskInfo(1)
        assert one_line(info.value, url) == f"HTTP 502 Bad Gateway ({url})"
    finally:
        await koji.close()
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_dns_failure():
    url = "https://koji.example.test/kojihub"
    previous = reactor.installNameResolver(NoNames())
    try:
        koji = txkoji.Connection(server=url, retries=2, retry_interval=0.01)
        with pytest.raises(txkoji.KojiTransportError) as info:
            await koji.getTaskInfo(1)
    finally:
        reactor.installNameResolver(previous)
    assert one_line(info.value, url) == f"DNS: no address for koji.example.test ({url})"


@pytest_twisted.ensureDeferred
async def test_tls_untrusted_certificate(kojihub):
    url = kojihub.ssl_url
    koji = txkoji.Connection(server=url, retries=2)  # the system's roots only
    with pytest.raises(txkoji.KojiTransportError) as info:
        await koji.getAPIVersion()
    assert one_line(info.value, url) == (
        "TLS: the hub's certificate is not trusted (certificate verify failed; check "
        f"serverca) ({url})")


@pytest_twisted.ensureDeferred
async def test_tls_certificate_for_another_host(kojihub):
    cert, key = kojihub.ca.issue("shapes-other-host", "other.example.test",
                                 "subjectAltName=DNS:other.example.test\n"
                                 "extendedKeyUsage=serverAuth\n")
    identity = ssl.PrivateCertificate.loadPEM(cert.read_text() + key.read_text())
    port = reactor.listenSSL(0, server.Site(BadGateway()), identity.options(),
                             interface="127.0.0.1")
    url = f"https://127.0.0.1:{port.getHost().port}/kojihub"
    koji = txkoji.Connection(server=url, serverca=kojihub.ca_cert)
    try:
        with pytest.raises(txkoji.KojiTransportError) as info:
            await koji.getAPIVersion()
        assert one_line(info.value, url) == (
            f"TLS: the hub's certificate is not valid for 127.0.0.1 ({url})")
    finally:
        await koji.close()
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_tls_to_a_plain_http_port(apache_hub, kojihub):
    url = apache_hub.url.replace("http://", "https://")
    koji = txkoji.Connection(server=url, serverca=kojihub.ca_cert)
    with pytest.raises(txkoji.KojiTransportError) as info:
        await koji.getAPIVersion()
    said = one_line(info.value, url)
    assert said.startswith("TLS: the server does not speak TLS (") and said.endswith(
        f") ({url})")
    await koji.close()


# -- logs ----------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_a_failed_call_is_logged_once_at_warn_with_its_method():
    _, port, url = listening(HangUpAfterRequest)
    koji = txkoji.Connection(server=url, retries=2, retry_interval=0.01)
    try:
        with LogCapture() as logs, pytest.raises(txkoji.KojiTransportError):
            await koji.getTaskInfo(1)
    finally:
        await port.stopListening()
    warned = logs.texts(LogLevel.warn)
    assert warned == [f"hub call getTaskInfo failed: connection closed before any answer "
                      f"({url})"]
    assert not logs.texts(LogLevel.error) and not logs.texts(LogLevel.critical)


@pytest_twisted.ensureDeferred
async def test_a_failed_multicall_is_logged_by_the_methods_it_carried():
    _, port, url = listening(HangUpAfterRequest)
    koji = txkoji.Connection(server=url, retries=0)
    multicall = koji.MultiCall()
    for method in ("getTaskInfo", "getTaskChildren", "getTaskInfo", "listTags", "getUser"):
        multicall.call(method, 1)
    try:
        with LogCapture() as logs, pytest.raises(txkoji.KojiTransportError):
            await multicall()
    finally:
        await port.stopListening()
    assert logs.texts(LogLevel.warn) == [
        "hub call multicall of getTaskInfo, getTaskChildren, listTags +1 more failed: "
        f"connection closed before any answer ({url})"]


@pytest_twisted.ensureDeferred
async def test_no_factory_chatter_in_the_log(apache_hub, wsgiref_hub, kojihub):
    with LogCapture() as logs:
        for url in (apache_hub.url, wsgiref_hub.url, kojihub.ssl_url):
            koji = txkoji.Connection(server=url, serverca=kojihub.ca_cert)
            for _ in range(3):
                await koji.getAPIVersion()
            await koji.close()
    assert logs.events
    assert not [t for t in logs.texts() if "factory" in t.lower()]


# -- the bot through these servers ---------------------------------------------------------


@pytest.fixture(scope="module")
def bots(tmp_path_factory):
    made: dict[str, tuple[Bot, RecordingAdapter]] = {}

    def bot_for(hub, weburl: str) -> tuple[Bot, RecordingAdapter]:
        if hub.url not in made:
            state = tmp_path_factory.mktemp("state") / "state.sqlite3"
            settings = config.parse(f"[bot]\nrate = 1000\nstate = {state}\n"
                                    f"[koji]\nserver = {hub.url}\nweburl = {weburl}\n")
            bot = Bot(settings)
            adapter = RecordingAdapter()
            bot.adapters[adapter.network] = adapter
            made[hub.url] = bot, adapter
        return made[hub.url]

    return bot_for


async def say(bot_and_adapter, line: str) -> str:
    bot, adapter = bot_and_adapter
    before = len(adapter.said)
    await bot.receive(Incoming("irc", "alice", line, room="#koji", bot_name="kojibot"))
    (answer,) = adapter.said[before:]
    return answer


@pytest.mark.parametrize("shape", ["wsgiref", "apache"])
@pytest_twisted.ensureDeferred
async def test_bot_task_eta_and_watch(request, shape, bots, kojihub):
    hub = shape_server(request, shape)
    proxy = hub.proxy()
    bot = bots(hub, kojihub.weburl)
    facts = kojihub.facts["builds"]

    task_id = facts["complete"]["task_id"]
    raw = proxy.getTaskInfo(task_id, True)
    owner = proxy.getUser(raw["owner"])["name"]
    line = await say(bot, f"!task {task_id}")
    assert line.startswith(f"Task {task_id} build ") and f" CLOSED by {owner} " in line
    assert "2/2 buildArch closed" in line
    assert line.endswith(f"{kojihub.weburl}/taskinfo?taskID={task_id}")

    average = proxy.getAverageBuildDuration("bash")
    minutes, seconds = divmod(int(average), 60)
    line = await say(bot, "!eta bash")
    assert line.startswith(f"bash: average build {minutes}m {seconds:02d}s; 1 building: "
                           f"{facts['building']['nvr']} ETA ")

    line = await say(bot, f"!watch {task_id}")
    assert line.startswith(f"Task {task_id} build ")
    assert line.endswith(" — already finished; not watching it.")
    building = facts["building"]["task_id"]
    line = await say(bot, f"!watch {building}")
    assert line.startswith(f"Watching: Task {building} build ")
    assert line.endswith(" — I will say here when it ends.")
    assert [w.ref for w in await bot[0].store.watches("irc", "alice")] == [building]
    await bot[0].koji.close()
