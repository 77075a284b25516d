"""DM alerts and watches with every peer real: a host session on the koji 1.30 hub opens,
closes and fails tasks and builds; koji's own protonmsg plugin publishes each change into a
private RabbitMQ node (Fedora-shaped messages go there too, with pika); the bot consumes
and talks on ngircd to scripted users. A second bot has no bus and lives on its poll."""

import itertools
import re
import time
import urllib.request
from types import SimpleNamespace

import pika
import pytest_twisted
from twisted.internet import reactor, task

from tests.builddriver import TaskDriver
from tests.busmessages import FEDORA_BUILD, fedora_build, publish
from tests.chatbots import ask, blocking, from_bot, heard, start_bot
from tests.ircuser import IRCUser

_names = itertools.count(1)
_sentinels = itertools.count(960000)
POLL = 2.0  # the bus-less bot's watch_poll_interval, seconds


async def sentinel(peers, bot, owner="alice"):
    """A Fedora-shaped COMPLETE for ``owner``, published after everything before it; its
    DM to alice shows the bot has handled all earlier events."""
    build_id = next(_sentinels)
    await blocking(publish, peers.rabbitmq.url,
                   [(FEDORA_BUILD, fedora_build(build_id, "fedpkg", 1, owner=owner))])
    return await heard(peers.alice, bot.nick, rf"^fedpkg-1\.0-{build_id}\.fc41 COMPLETE")


@pytest_twisted.async_yield_fixture(scope="module")
async def peers(proton_kojihub, rabbitmq, ngircd, tmp_path_factory):
    n = next(_names)
    peers = SimpleNamespace(hub=proton_kojihub, rabbitmq=rabbitmq, ngircd=ngircd, n=n,
                            channel=f"#watch-{n}", tmp=tmp_path_factory.mktemp("alerts"))
    peers.driver = await blocking(TaskDriver, proton_kojihub)
    peers.alice = await IRCUser.connect(ngircd.port, f"alice{n}")
    peers.bob = await IRCUser.connect(ngircd.port, f"bob{n}")
    await peers.alice.join(peers.channel)
    peers.bus = await start_bot(peers, f"alertbot{n}", peers.tmp / "bus.sqlite3")
    for user, koji_user in ((peers.alice, "alice"), (peers.bob, "bob")):
        await ask(user, peers.bus, f"iam {koji_user}", rf"^Linked {user.nick} to Koji user")
        await ask(user, peers.bus, "alerts on", r"^Alerts on: a DM for builds of")
    yield peers
    await peers.bus.bot.stopService()
    await peers.alice.quit()
    await peers.bob.quit()
    await blocking(delete_queue, rabbitmq.url, f"kojibot-{peers.bus.name}")


def delete_queue(url, name):
    """Leave the shared broker as found: no durable queue collecting later tests' events."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    connection.channel().queue_delete(name)
    connection.close()


@pytest_twisted.ensureDeferred
async def test_failed_build_alerts_its_owner_by_dm_and_nobody_else(peers):
    driver, hub, bot = peers.driver, peers.hub, peers.bus
    nvr = f"alertpkg-1.0-{peers.n}"
    task_id = await blocking(driver.submit, "alice", "alertpkg")
    srpm = await blocking(driver.srpm, task_id)
    await blocking(driver.close, srpm)
    arches = await blocking(driver.arch_tasks, task_id, nvr)
    await blocking(driver.close, arches["x86_64"])
    await blocking(driver.upload_log, arches["aarch64"], "error: aarch64 went wrong\n")
    await blocking(driver.fail, arches["aarch64"])
    await blocking(driver.fail_build, task_id)
    await blocking(driver.fail, task_id)  # its build says it: no second alert

    line = await heard(peers.alice, bot.nick, rf"^{nvr} FAILED")
    build_id = driver.builds[task_id]
    log = f"{hub.topurl}/work/tasks/{arches['aarch64'] % 10000}/{arches['aarch64']}/build.log"
    assert re.fullmatch(rf"{nvr} FAILED \(was BUILDING\) by alice(, took \d+s)? — "
                        rf"{re.escape(hub.weburl)}/buildinfo\?buildID={build_id} — "
                        rf"failed: aarch64 \(build\.log: {re.escape(log)}\) — "
                        rf"why: error: aarch64 went wrong", line)
    served = await blocking(lambda: urllib.request.urlopen(log, timeout=10).read())
    assert served == b"error: aarch64 went wrong\n"

    await sentinel(peers, bot)
    alerts = [x for x in from_bot(peers.alice, bot.nick, True) if x.startswith(nvr)]
    assert alerts == [line]
    assert not [x for x in from_bot(peers.bob, bot.nick, True)
                if nvr in x or "fedpkg" in x]  # bob's DMs: only his own command replies


@pytest_twisted.ensureDeferred
async def test_early_srpm_failure_alerts_the_owner(peers):
    driver, hub, bot = peers.driver, peers.hub, peers.bus
    task_id = await blocking(driver.submit, "alice", "srpmfail")
    srpm = await blocking(driver.srpm, task_id)
    await blocking(driver.upload_log, srpm, "error: bad spec file\n")
    await blocking(driver.fail, srpm)
    await blocking(driver.fail, task_id)
    line = await heard(peers.alice, bot.nick, rf"^Task {task_id} build srpmfail FAILED")
    log = f"{hub.topurl}/work/tasks/{srpm % 10000}/{srpm}/build.log"
    assert re.fullmatch(rf"Task {task_id} build srpmfail FAILED \(was OPEN\) by alice"
                        rf"(, took \d+s)? — {re.escape(hub.weburl)}/taskinfo\?taskID={task_id} — "
                        rf"failed: SRPM \(build\.log: {re.escape(log)}\) — "
                        rf"why: error: bad spec file", line)
    await sentinel(peers, bot)
    assert len([x for x in from_bot(peers.alice, bot.nick, True)
                if x.startswith(f"Task {task_id} ")]) == 1


async def quiet(seconds):
    await task.deferLater(reactor, seconds, lambda: None)


@pytest_twisted.ensureDeferred
async def test_watch_on_a_build_task_reports_once_when_the_tree_ends(peers):
    driver, bot, alice, channel = peers.driver, peers.bus, peers.alice, peers.channel
    task_id, arches = await blocking(peers.driver.open_tree, "watchpkg")
    answer = await ask(alice, bot, f"!watch {task_id}", r"Watching: ", room=channel)
    assert answer.startswith(f"{alice.nick}: Watching: Task {task_id} build watchpkg "
                             "(scratch) [noarch] OPEN by kojiadmin")
    assert answer.endswith("I will say here when it ends.")

    await blocking(driver.close, arches["x86_64"])
    await quiet(1.0)
    assert not [x for x in from_bot(alice, bot.nick, False) if "finished:" in x]
    await blocking(driver.close, arches["aarch64"])
    await blocking(driver.close, task_id)
    report = await heard(alice, bot.nick, r"finished: ", direct=False)
    assert report.startswith(f"{alice.nick}: finished: Task {task_id} build watchpkg "
                             "(scratch) [noarch] CLOSED by kojiadmin")
    assert "2/2 buildArch closed" in report

    done = peers.hub.facts["builds"]["complete"]["task_id"]
    finished = await ask(alice, bot, f"!watch {done}", r"already finished", room=channel)
    assert f"Task {done} build python-requests [noarch] CLOSED" in finished
    assert await ask(alice, bot, "!watches", r"watching", room=channel) == \
        f"{alice.nick}: You are not watching anything; !watch ID|NVR follows a task or build."
    assert len([x for x in from_bot(alice, bot.nick, False) if "finished:" in x]) == 1


@pytest_twisted.ensureDeferred
async def test_a_watch_survives_a_restart(peers):
    driver, alice = peers.driver, peers.alice
    task_id, arches = await blocking(peers.driver.open_tree, "restartwatch")
    await ask(alice, peers.bus, f"watch {task_id}", r"^Watching: .* in this DM when it ends")
    await peers.bus.bot.stopService()
    await blocking(driver.close, arches["x86_64"])  # while the bot is away
    peers.bus = await start_bot(peers, peers.bus.name, peers.bus.state)
    await blocking(driver.close, arches["aarch64"])
    await blocking(driver.close, task_id)
    report = await heard(alice, peers.bus.nick, rf"^finished: Task {task_id} ")
    assert " CLOSED by kojiadmin" in report and "2/2 buildArch closed" in report
    await sentinel(peers, peers.bus)  # the DM alerts came back with the bot too
    assert len([x for x in from_bot(alice, peers.bus.nick, True)
                if x.startswith(f"finished: Task {task_id} ")]) == 1


@pytest_twisted.ensureDeferred
async def test_without_a_bus_the_poll_reports_within_its_interval(peers):
    driver, alice = peers.driver, peers.alice
    poller = await start_bot(peers, f"pollbot{peers.n}", peers.tmp / "poll.sqlite3",
                             bus=False, poll=POLL)
    try:
        task_id, arches = await blocking(peers.driver.open_tree, "pollwatch")
        await ask(alice, poller, f"watch {task_id}", r"^Watching: ")
        for child in (arches["x86_64"], arches["aarch64"], task_id):
            await blocking(driver.close, child)
        ended = time.monotonic()
        report = await heard(alice, poller.nick, rf"^finished: Task {task_id} ",
                             timeout=POLL + 10)
        assert time.monotonic() - ended < POLL + 1.5
        assert " CLOSED by kojiadmin" in report
    finally:
        await poller.bot.stopService()


@pytest_twisted.ensureDeferred
async def test_not_mine_leaves_out_the_persons_own_builds(peers):
    bob, bot = peers.bob, peers.bus
    await ask(bob, bot, "alerts off", r"^Alerts off")
    await ask(bob, bot, "alerts package minepkg complete not-mine",
              r"^Alert on: a DM for package minepkg \(complete not-mine\)")
    try:
        await blocking(publish, peers.rabbitmq.url, [
            (FEDORA_BUILD, fedora_build(970001, "minepkg", 1, owner="bob")),
            (FEDORA_BUILD, fedora_build(970002, "minepkg", 1, owner="alice"))])
        await heard(bob, bot.nick, r"^minepkg-1\.0-970002\.fc41 COMPLETE .* by alice")
        await sentinel(peers, bot)
        assert not [line for line in from_bot(bob, bot.nick, True) if "970001" in line]
    finally:
        await ask(bob, bot, "alerts package minepkg off", r"^Alert off")
        await ask(bob, bot, "alerts on", r"^Alerts on: a DM for builds of")
