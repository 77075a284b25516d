"""Watches end on time on either bus format: the real koji 1.30 hub (a host session plays
kojid), its protonmsg plugin publishing into a private RabbitMQ node, and next to it the
messages Fedora's koji-fedoramessaging plugin sends for the same changes (published with
pika, as that plugin needs a newer hub): task.state.change for scratch parent tasks only,
build.state.change with its task_id. The watch poll is 300 s here, so only the bus can
explain a report within seconds."""

import itertools
import statistics
import time
import xmlrpc.client
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
import pytest_twisted
from twisted.internet import reactor, task

from kojibot.chat.render import strip_irc_formatting
from tests.builddriver import TaskDriver
from tests.busmessages import FEDORA_BUILD, FEDORA_TASK, fedora_build, fedora_task, publish
from tests.chatbots import ask, blocking, start_bot
from tests.ircuser import IRCUser
from tests.peers.test_alerts_watch_e2e import delete_queue

GOAL = 5.0  # seconds from the hub's change to the report
ROUNDS = 2
FORMATS = {"protonmsg": "koji.#", "fedora": "org.fedoraproject.*.buildsys.#"}
_names = itertools.count(1)
latencies: dict[str, list[float]] = {name: [] for name in FORMATS}


class FedoraPlugin:
    """Publishes what koji-fedoramessaging would for the changes a test makes."""

    def __init__(self, hub, broker_url):
        self.url = broker_url
        self.hub = xmlrpc.client.ServerProxy(hub.url, allow_none=True)
        self.base_url = f"{urlsplit(hub.url).scheme}://{urlsplit(hub.url).hostname}"

    def task(self, task_id, old, new):
        info = self.hub.getTaskInfo(task_id, True)
        if not info["request"][2].get("scratch") or info["parent"] is not None:
            return  # the plugin says nothing of other tasks
        publish(self.url, [(FEDORA_TASK, fedora_task(info, old, new, "kojiadmin",
                                                     self.base_url))])

    def build(self, build_id, name, task_id, new):
        publish(self.url, [(FEDORA_BUILD, fedora_build(
            build_id, name, new, owner="kojiadmin", release="1", task_id=task_id,
            base_url=self.base_url))])


class Protonmsg:
    """The hub's own plugin publishes every change: nothing to add."""

    def task(self, *args):
        pass

    def build(self, *args):
        pass


@pytest_twisted.async_yield_fixture(scope="module")
async def peers(proton_kojihub, rabbitmq, ngircd, tmp_path_factory):
    n = next(_names)
    peers = SimpleNamespace(hub=proton_kojihub, rabbitmq=rabbitmq, ngircd=ngircd,
                            channel=f"#latency-{n}", tmp=tmp_path_factory.mktemp("latency"))
    peers.driver = await blocking(TaskDriver, proton_kojihub)
    peers.alice = await IRCUser.connect(ngircd.port, f"lat{n}")
    peers.bots = {}
    for name, topics in FORMATS.items():
        peers.bots[name] = await start_bot(peers, f"{name[:5]}bot{n}",
                                           peers.tmp / f"{name}.sqlite3", poll=300.0,
                                           amqp=f"topics = {topics}\n")
    peers.plugins = {"protonmsg": Protonmsg(),
                     "fedora": FedoraPlugin(proton_kojihub, rabbitmq.url)}
    yield peers
    for fmt, values in latencies.items():  # the figures, shown with -s
        if values:
            print(f"\nwatch latency {fmt}: p50 {statistics.median(values):.2f} s, "
                  f"max {max(values):.2f} s over {len(values)} watches")
    for bot in peers.bots.values():
        await bot.bot.stopService()
        await blocking(delete_queue, rabbitmq.url, f"kojibot-{bot.name}")
    await peers.alice.quit()


async def quiet(seconds):
    await task.deferLater(reactor, seconds, lambda: None)


async def watched_end(peers, fmt, outcome, name):
    """Open a build task tree, watch it, end it as kojid would with ``outcome``; seconds
    from the root task's end on the hub to the report in the asker's DM."""
    driver, alice, bot, plugin = peers.driver, peers.alice, peers.bots[fmt], peers.plugins[fmt]
    scratch = outcome == "scratch"
    task_id, arches = await blocking(driver.open_tree, name, scratch)
    await ask(alice, bot, f"watch {task_id}", rf"^Watching: Task {task_id} ")
    if scratch:
        await blocking(plugin.task, task_id, "FREE", "OPEN")
    if outcome == "failed":
        await blocking(driver.close, arches["x86_64"])
        await blocking(driver.fail, arches["aarch64"])
        await blocking(driver.fail_build, task_id)
        await blocking(plugin.build, driver.builds[task_id], name, task_id, 3)
    else:
        for child in arches.values():
            await blocking(driver.close, child)
        if outcome == "complete":  # completeBuild needs real RPMs: its effect, in SQL
            build_id = driver.builds[task_id]
            await blocking(peers.hub.sql, "UPDATE build SET state = 1, completion_time = "
                                          f"now() WHERE id = {build_id}")
            await blocking(plugin.build, build_id, name, task_id, 1)
    if not scratch:
        await quiet(1.0)  # kojid ends the build task a moment after the build
    report = alice.wait_for(lambda h: h.nick == bot.nick and h.target == alice.nick and
                            strip_irc_formatting(h.text).startswith(f"finished: Task {task_id} "),
                            timeout=30)
    arrived = []
    report.addCallback(lambda heard: arrived.append(time.monotonic()) or heard)
    ended = time.monotonic()
    end = driver.fail if outcome == "failed" else driver.close
    await blocking(end, task_id)
    await blocking(plugin.task, task_id, "OPEN", "FAILED" if outcome == "failed" else "CLOSED")
    heard = await report
    state = "FAILED" if outcome == "failed" else "CLOSED"
    assert f" {state} by kojiadmin" in strip_irc_formatting(heard.text)
    return arrived[0] - ended


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("outcome", ["scratch", "complete", "failed"])
@pytest_twisted.ensureDeferred
async def test_a_watch_reports_within_seconds_of_the_hub(peers, fmt, outcome):
    for round_ in range(ROUNDS):
        took = await watched_end(peers, fmt, outcome, f"lat{fmt[:4]}{outcome[:4]}{round_}")
        latencies[fmt].append(took)
        assert took < GOAL, f"{fmt} {outcome}: reported {took:.2f} s after the hub's change"

