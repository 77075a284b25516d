"""!watch NVR TAG on the real koji 1.30 hub: a build is tagged, then the tag's repo is
regenerated through the hub's host calls as kojira and kojid do (repoInit, repoDone). The
protonmsg bot hears the hub's own plugin through RabbitMQ; the Fedora bot hears the
repo.done koji-fedoramessaging would send (published with pika, as that plugin needs a newer
hub); both poll every 300 s, so only the bus explains a report within seconds. A third bot
has no bus and a short poll. A repo made before the tagging never ends a watch.
``!alerts buildroot`` turns a person's completed build into such a watch in a DM."""

import itertools
import json
import statistics
import time
from types import SimpleNamespace

import pytest
import pytest_twisted
from twisted.internet import reactor, task

from kojibot.chat.render import strip_irc_formatting
from tests.builddriver import BuildDriver, TaskDriver
from tests.busmessages import FEDORA_BUILD, fedora_build, publish
from tests.chatbots import ask, blocking, from_bot, start_bot
from tests.ircuser import IRCUser
from tests.peers.test_alerts_watch_e2e import delete_queue

GOAL = 5.0  # seconds from repoDone to the report
FORMATS = {"protonmsg": "koji.#", "fedora": "org.fedoraproject.*.buildsys.#"}
FEDORA_REPO_DONE = "org.fedoraproject.prod.buildsys.repo.done"
BUILD_TAG = "f41-build"
_names = itertools.count(1)
latencies: dict[str, list[float]] = {name: [] for name in FORMATS}


@pytest_twisted.async_yield_fixture(scope="module")
async def peers(proton_kojihub, rabbitmq, ngircd, tmp_path_factory):
    n = next(_names)
    peers = SimpleNamespace(hub=proton_kojihub, rabbitmq=rabbitmq, ngircd=ngircd,
                            channel=f"#buildroot-{n}", tmp=tmp_path_factory.mktemp("buildroot"))
    peers.driver = await blocking(BuildDriver, proton_kojihub)
    peers.builder = await blocking(TaskDriver, proton_kojihub)
    peers.host = peers.builder.host
    peers.alice = await IRCUser.connect(ngircd.port, f"brw{n}")
    peers.bots = {}
    for name, topics in FORMATS.items():
        peers.bots[name] = await start_bot(peers, f"br{name[:5]}{n}",
                                           peers.tmp / f"{name}.sqlite3", poll=300.0,
                                           amqp=f"topics = {topics}\n")
    peers.bots["poll"] = await start_bot(peers, f"brpoll{n}", peers.tmp / "poll.sqlite3",
                                         bus=False, poll=2.0)
    yield peers
    for fmt, values in latencies.items():  # the figures, shown with -s
        if values:
            print(f"\nbuildroot watch {fmt}: repo.done to report p50 "
                  f"{statistics.median(values):.2f} s, max {max(values):.2f} s "
                  f"over {len(values)} watches")
    for name, bot in peers.bots.items():
        await bot.bot.stopService()
        if name != "poll":
            await blocking(delete_queue, rabbitmq.url, f"kojibot-{bot.name}")
    await peers.alice.quit()


def completed_build(driver, name):
    """A complete build whose package is in the package list f41-build inherits (koji
    lists no build of a package outside it)."""
    driver.admin.packageListAdd("f41-updates", name, owner="alice")
    nvr = driver.start(name)
    driver.complete(nvr)
    return nvr


def new_repo(peers, tag):
    """repoInit as kojira's newRepo task does; the repo id (not yet done)."""
    repo_id, _event = peers.host.repoInit(tag)
    return repo_id


def repo_done(peers, fmt, repo_id, tag):
    peers.host.repoDone(repo_id, {})
    if fmt == "fedora":
        body = {"repo_id": repo_id, "tag": tag, "tag_id": peers.hub.facts["tags"][tag],
                "instance": "primary"}
        publish(peers.rabbitmq.url, [(FEDORA_REPO_DONE, json.dumps(body).encode())])


async def quiet(seconds):
    await task.deferLater(reactor, seconds, lambda: None)


def reports(peers, bot, nvr):
    return [line for line in from_bot(peers.alice, bot.nick, True)
            if line.startswith(f"{nvr} is in the ")]


async def watched_into_buildroot(peers, fmt, into, name):
    """Watch a completed build, make a repo, tag the build into ``into``, finish that repo
    (it must not count), then make and finish a new one; seconds from that repoDone to the
    report."""
    bot = peers.bots[fmt]
    nvr = await blocking(completed_build, peers.driver, name)
    await ask(peers.alice, bot, f"watch {nvr} {BUILD_TAG}",
              rf"^Watching: {nvr} — not in the {BUILD_TAG} buildroot yet")
    before = await blocking(new_repo, peers, BUILD_TAG)
    await blocking(peers.driver.admin.tagBuildBypass, into, nvr, True)
    await blocking(repo_done, peers, fmt, before, BUILD_TAG)
    await quiet(3.0 if fmt != "poll" else 5.0)
    assert reports(peers, bot, nvr) == [], "a repo made before the tagging ended the watch"
    after = await blocking(new_repo, peers, BUILD_TAG)
    report = peers.alice.wait_for(
        lambda h: h.nick == bot.nick and h.target == peers.alice.nick and
        strip_irc_formatting(h.text).startswith(f"{nvr} is in the "), timeout=30)
    arrived = []
    report.addCallback(lambda heard: arrived.append(time.monotonic()) or heard)
    done = time.monotonic()
    await blocking(repo_done, peers, fmt, after, BUILD_TAG)
    heard = strip_irc_formatting((await report).text)
    assert heard.startswith(f"{nvr} is in the {BUILD_TAG} buildroot: repo {after} (done ")
    assert "after tagging)" in heard and "buildinfo?buildID=" in heard
    await quiet(1.0)
    assert len(reports(peers, bot, nvr)) == 1
    return arrived[0] - done


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("into", ["f41-updates", BUILD_TAG], ids=["inherited", "direct"])
@pytest_twisted.ensureDeferred
async def test_watch_nvr_tag_reports_within_seconds_of_repo_done(peers, fmt, into):
    took = await watched_into_buildroot(peers, fmt, into, f"br{fmt[:4]}{into[4:7]}")
    latencies[fmt].append(took)
    assert took < GOAL, f"{fmt}: reported {took:.2f} s after repoDone"


@pytest_twisted.ensureDeferred
async def test_the_poll_reports_without_a_bus(peers):
    took = await watched_into_buildroot(peers, "poll", "f41-updates", "brpollinh")
    assert took < 10.0, f"poll: reported {took:.2f} s after repoDone"


@pytest_twisted.ensureDeferred
async def test_watch_of_a_build_already_in_the_buildroot_says_so(peers):
    bot = peers.bots["protonmsg"]
    nvr = await blocking(completed_build, peers.driver, "bralready")
    await blocking(peers.driver.admin.tagBuildBypass, BUILD_TAG, nvr, True)
    repo_id = await blocking(new_repo, peers, BUILD_TAG)
    await blocking(peers.host.repoDone, repo_id, {})
    await ask(peers.alice, bot, f"watch {nvr} {BUILD_TAG}",
              rf"^{nvr} is in the {BUILD_TAG} buildroot: repo {repo_id} already; not watching")


@pytest_twisted.ensureDeferred
async def test_bad_build_or_tag_is_one_line(peers):
    bot = peers.bots["protonmsg"]
    await ask(peers.alice, bot, "watch nosuch-1-1 f41-build", r"^No such build: nosuch-1-1$")


@pytest_twisted.ensureDeferred
async def test_alerts_buildroot_sends_a_dm_when_a_completed_build_is_in_its_buildroot(peers):
    """alice's build of target f41 completes (Fedora's build.state.change); her DM names
    f41's build tag once a repo made after the tagging is done."""
    bot, driver = peers.bots["fedora"], peers.builder
    await ask(peers.alice, bot, "iam alice", r"^Linked .* to Koji user alice\.")
    await ask(peers.alice, bot, "alerts buildroot",
              r"^Alert on: a DM for builds of alice in their target's buildroot\.$")
    name = "bralert"
    await blocking(peers.driver.admin.packageListAdd, "f41-updates", name, "alice")
    task_id = await blocking(driver.submit, "alice", name, False)
    await blocking(lambda: driver.close(driver.srpm(task_id)))
    arches = await blocking(driver.arch_tasks, task_id, f"{name}-1.0-1", True)
    for child in arches.values():
        await blocking(driver.close, child)
    build_id = driver.builds[task_id]
    await blocking(peers.hub.sql, "UPDATE build SET state = 1, completion_time = now() "
                                  f"WHERE id = {build_id}")  # completeBuild needs real RPMs
    await blocking(publish, peers.rabbitmq.url, [(FEDORA_BUILD, fedora_build(
        build_id, name, 1, owner="alice", release="1", task_id=task_id))])
    nvr = f"{name}-1.0-1"
    await blocking(peers.driver.admin.tagBuildBypass, "f41-updates", nvr, True)
    await quiet(2.0)
    repo_id = await blocking(new_repo, peers, BUILD_TAG)
    await blocking(repo_done, peers, "fedora", repo_id, BUILD_TAG)
    heard = await peers.alice.wait_for(
        lambda h: h.nick == bot.nick and h.target == peers.alice.nick and
        strip_irc_formatting(h.text).startswith(f"{nvr} is in the "), timeout=20)
    assert strip_irc_formatting(heard.text).startswith(
        f"{nvr} is in the {BUILD_TAG} buildroot: repo {repo_id} (done ")
    await ask(peers.alice, bot, f"watch {nvr}",  # alone: its target's build tag
              rf"^{nvr} is in the {BUILD_TAG} buildroot: repo {repo_id} already; not watching")
    await ask(peers.alice, bot, "alerts buildroot off", r"^Alert off: buildroot\.$")


@pytest_twisted.ensureDeferred
async def test_a_buildroot_watch_survives_a_restart(peers):
    state, nick = peers.tmp / "restart.sqlite3", f"brrest{next(_names)}"
    bot = await start_bot(peers, nick, state, poll=300.0, amqp=f"topics = {FORMATS['protonmsg']}\n")
    nvr = await blocking(completed_build, peers.driver, "brrestart")
    await ask(peers.alice, bot, f"watch {nvr} {BUILD_TAG}", rf"^Watching: {nvr} — ")
    await bot.bot.stopService()
    bot = await start_bot(peers, nick, state, poll=300.0, amqp=f"topics = {FORMATS['protonmsg']}\n")
    try:
        await blocking(peers.driver.admin.tagBuildBypass, "f41-updates", nvr, True)
        repo_id = await blocking(new_repo, peers, BUILD_TAG)
        report = peers.alice.wait_for(
            lambda h: h.nick == bot.nick and h.target == peers.alice.nick and
            strip_irc_formatting(h.text).startswith(f"{nvr} is in the "), timeout=GOAL)
        await blocking(repo_done, peers, "protonmsg", repo_id, BUILD_TAG)
        heard = strip_irc_formatting((await report).text)
        assert heard.startswith(f"{nvr} is in the {BUILD_TAG} buildroot: repo {repo_id} ")
    finally:
        await bot.bot.stopService()
        await blocking(delete_queue, peers.rabbitmq.url, f"kojibot-{nick}")
