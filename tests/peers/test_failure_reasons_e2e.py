"""Why builds failed, end to end: the builder's part played on the real koji 1.30 hub
(logs uploaded through the host API, faults through host.failTask), koji's protonmsg plugin
publishing to RabbitMQ, and the bot telling alice in a DM, a channel subscribed with
``why``, and ``!why`` — each failure shape with the one line the bot wrote for it."""

import itertools
import re
from types import SimpleNamespace

import pytest
import pytest_twisted

import txkoji
from kojibot import lookups
from tests.failshapes import SHAPES
from tests.ircuser import IRCUser
from tests.peers.test_alerts_watch_e2e import (
    ask,
    blocking,
    delete_queue,
    from_bot,
    heard,
    start_bot,
)

_runs = itertools.count(1)


@pytest_twisted.async_yield_fixture(scope="module")
async def peers(proton_kojihub, rabbitmq, ngircd, tmp_path_factory):
    from tests.builddriver import TaskDriver

    n = next(_runs)
    peers = SimpleNamespace(hub=proton_kojihub, rabbitmq=rabbitmq, ngircd=ngircd, n=n,
                            channel=f"#why-{n}", tmp=tmp_path_factory.mktemp("why"))
    peers.driver = await blocking(TaskDriver, proton_kojihub)
    peers.alice = await IRCUser.connect(ngircd.port, f"whyalice{n}")
    await peers.alice.join(peers.channel)  # first in: channel operator
    peers.bus = await start_bot(peers, f"whybot{n}", peers.tmp / "why.sqlite3")
    bot = peers.bus
    await ask(peers.alice, bot, "iam alice", r"^Linked ")
    await ask(peers.alice, bot, "alerts on", r"^Alerts on: ")
    answer = await ask(peers.alice, bot, "!subscribe package why* failed why",
                       r"ubscribed", room=peers.channel)
    assert answer.endswith("Subscribed: package why* (failed why) in " + peers.channel)
    yield peers
    await peers.bus.bot.stopService()
    await peers.alice.quit()
    await blocking(delete_queue, rabbitmq.url, f"kojibot-{bot.name}")


async def said(user, nick, pattern, direct):
    """A line the bot said already (the DM and the channel line come in either order),
    else the next one that matches."""
    for line in from_bot(user, nick, direct):
        if re.search(pattern, line):
            return line
    return await heard(user, nick, pattern, direct=direct)


def log_link(hub, task_id, name):
    return f"{hub.topurl}/work/tasks/{task_id % 10000}/{task_id}/{name}"


async def fail_like_kojid(driver, shape, package, nvr):
    """The tree of one failed build, in kojid's order; the failed task's id."""
    task_id = await blocking(driver.submit, "alice", package)
    srpm = await blocking(driver.srpm, task_id)
    if shape.stage == "srpm":
        failed = srpm
    else:
        await blocking(driver.close, srpm)
        arches = await blocking(driver.arch_tasks, task_id, nvr)
        await blocking(driver.close, arches["x86_64"])
        failed = arches["aarch64"]
    for name, text in shape.logs.items():
        await blocking(driver.upload_log, failed, text, name)
    await blocking(driver.fail, failed, shape.fault)
    if shape.stage != "srpm":
        await blocking(driver.fail_build, task_id)  # before the task's fault, as kojid does
    await blocking(driver.fail, task_id, shape.fault)
    return task_id, failed


@pytest.mark.parametrize("shape", SHAPES, ids=lambda shape: shape.name)
@pytest_twisted.ensureDeferred
async def test_each_failure_shape_is_told_in_the_alert_the_channel_and_why(peers, shape):
    hub, bot, alice = peers.hub, peers.bus, peers.alice
    package = f"why{shape.name}"
    nvr = f"{package}-1.0-{peers.n}"
    task_id, failed = await fail_like_kojid(peers.driver, shape, package, nvr)
    link = log_link(hub, failed, shape.log)
    label = "why" if shape.known else "fault"
    told = f"{label}: {shape.reason}"

    if shape.stage == "srpm":
        alert = await heard(alice, bot.nick, rf"^Task {task_id} build {package} FAILED")
        assert alert.endswith(f" — failed: SRPM — {told} ({shape.log}: {link})"), alert
        ref, subject, where = task_id, f"Task {task_id}", "SRPM"
    else:
        alert = await said(alice, bot.nick, rf"^{nvr} FAILED", direct=True)
        relayed = await said(alice, bot.nick, rf"^{nvr} FAILED", direct=False)
        build_log = log_link(hub, failed, "build.log")
        tail = "" if shape.log == "build.log" else f" ({shape.log}: {link})"
        assert alert.endswith(f" — failed: aarch64 (build.log: {build_log}) — {told}{tail}"), \
            alert
        assert re.fullmatch(rf"{nvr} FAILED \(was BUILDING\) by alice(, took \d+s)? — \S+ — "
                            rf"{re.escape(told)} \({shape.log}: {re.escape(link)}\)",
                            relayed), relayed
        ref, subject, where = nvr, nvr, "aarch64"
    answer = await ask(alice, bot, f"why {ref}", rf"^{re.escape(subject)} failed on ")
    assert answer == f"{subject} failed on {where}: {shape.reason} — {shape.log}: {link}"
    print(f"\n[{shape.name}] alert: {alert}\n[{shape.name}] !why: {answer}")
    if shape.stage != "srpm":
        print(f"[{shape.name}] relayed: {relayed}")


@pytest_twisted.ensureDeferred
async def test_why_answers_what_did_not_fail_and_what_does_not_exist(peers):
    bot, alice, hub = peers.bus, peers.alice, peers.hub
    assert await ask(alice, bot, "why nosuch-1-1", r"^No such") == "No such build: nosuch-1-1"
    complete = hub.facts["builds"]["complete"]
    assert await ask(alice, bot, f"why {complete['nvr']}", r"did not fail") == \
        f"{complete['nvr']} did not fail: it is COMPLETE."
    assert await ask(alice, bot, f"why {complete['task_id']}", r"did not fail") == \
        f"Task {complete['task_id']} did not fail: it is CLOSED."
    assert await ask(alice, bot, "why 99999999", r"^No such") == "No such task: 99999999"


@pytest_twisted.ensureDeferred
async def test_a_20_mb_log_is_read_only_up_to_the_bound(peers):
    hub, driver = peers.hub, peers.driver
    task_id = await blocking(driver.submit, "kojiadmin", "whybig", True)
    srpm = await blocking(driver.srpm, task_id)
    filler = ("+ make -j4 V=1 all-recursive  # a long, noisy build " + "." * 60 + "\n")
    big = filler * (20 * 1024 * 1024 // len(filler) + 1) + \
        "error: Bad exit status from /var/tmp/rpm-tmp.Big123 (%install)\n"
    assert len(big) > 20 * 1024 * 1024
    await blocking(driver.upload_log, srpm, big)
    await blocking(driver.fail, srpm)
    await blocking(driver.fail, task_id)
    koji = txkoji.Connection(server=hub.url, weburl=hub.weburl, topurl=hub.topurl)
    reasons = lookups.Reasons(koji)
    why = await reasons(task_id)
    assert why.reason == "%install failed: error: Bad exit status from " \
                         "/var/tmp/rpm-tmp.Big123 (%install)"
    assert why.task["id"] == srpm and why.log == "build.log"
    assert 0 < reasons.bytes_read <= lookups.TAIL
    again = await reasons(task_id)
    assert again is why and reasons.bytes_read <= lookups.TAIL  # cached: no second read
