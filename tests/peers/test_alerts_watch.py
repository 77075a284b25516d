"""DM alerts, identity links and watches on SQLite and PostgreSQL: the relay route, the
watcher and the commands over a stand-in hub (a txkoji
Connection whose one I/O method answers from dicts, so MultiCall, rich results and the
name cache are the real ones). The real hub, broker and IRC run in test_alerts_watch_e2e.py.
"""

import json
from dataclasses import dataclass

import pytest
import pytest_twisted
from twisted.internet.task import Clock

import txkoji
from kojibot import config
from kojibot.bot import Bot
from kojibot.chat.message import from_json
from kojibot.chat.model import Incoming
from kojibot.personal.dmalerts import Alerts
from kojibot.personal.watcher import Watcher
from kojibot.relay.matching import SubscriptionIndex
from kojibot.relay.outbox import OutboxPump
from kojibot.relay.router import Relay
from kojibot.services.identity import Identity
from kojibot.services.watches import Watches
from kojibot.state.store import Alert, Store
from tests.busmessages import FEDORA_BUILD, fedora_build
from tests.recording import RecordingAdapter
from tests.statedb import advance, settled, tables
from txkoji.cache import Cache
from txkoji.states import TaskState
from txkoji.testing import HubDouble

WEB, TOP = "https://koji.example.test/koji", "https://kojipkgs.example.test/"
FEDORA_TASK = "org.fedoraproject.prod.buildsys.task.state.change"
FREE, OPEN, CLOSED, FAILED = (int(TaskState[n]) for n in ("FREE", "OPEN", "CLOSED", "FAILED"))
SRC = "git+https://src.example.test/rpms/bash.git#abc"


class FakeHub(txkoji.Connection):
    """Answers hub calls from ``tasks``, ``builds``, ``users`` and ``outputs``, through
    txkoji.testing's in-memory hub (real XML-RPC, no server)."""

    def __init__(self, tmp_path):
        self.double = HubDouble(self.answer)
        super().__init__(server=self.double.url, weburl=WEB, topurl=TOP,
                         transport=self.double)
        self._cache = Cache(self, directory=str(tmp_path / "cache"))
        self.tasks, self.builds, self.outputs = {}, {}, {}
        self.users = {1: "alice", 2: "bob"}

    @property
    def requests(self) -> list[list[str]]:
        return self.double.requests

    @property
    def down(self) -> bool:
        return self.double.down

    @down.setter
    def down(self, value: bool) -> None:
        self.double.down = value

    def task(self, ident, state, parent=None, method="build", arch="noarch", owner=1):
        request = [SRC, "f41", {}] if method == "build" else ["x/bash-5.2-1.src.rpm", 3, arch]
        self.tasks[ident] = {"id": ident, "parent": parent, "method": method, "arch": arch,
                             "state": state, "owner": owner, "request": request,
                             "create_ts": 1767607000.0, "start_ts": 1767607200.0,
                             "completion_ts": 1767607500.0 if state in (2, 3, 5) else None,
                             "channel_id": 1, "priority": 20, "weight": 1.0}

    def answer(self, method, args, kw):
        tasks = self.tasks.values()
        if method == "getTaskInfo":
            return self.tasks.get(args[0])
        if method == "getTaskChildren":
            return [t for t in tasks if t["parent"] == args[0]]
        if method == "getTaskDescendents":
            found, todo = {}, [args[0]]
            while todo:
                parent = todo.pop()
                found[str(parent)] = [t for t in tasks if t["parent"] == parent]
                todo += [t["id"] for t in found[str(parent)]]
            return found
        if method == "getBuild":
            return next((b for b in self.builds.values() if args[0] in (b["id"], b["nvr"])),
                        None)
        if method == "listBuilds":
            return [b for b in self.builds.values() if b["task_id"] == kw.get("taskID")]
        if method == "getUser":
            ident = next((i for i, n in self.users.items() if args[0] in (i, n)), None)
            return {"id": ident, "name": self.users[ident]} if ident else None
        if method == "listTaskOutput":
            return self.outputs.get(args[0], [])
        if method == "listTags":
            return []
        if method == "getAverageBuildDuration":
            return 600.0
        raise AssertionError(f"unexpected hub call {method}")


@dataclass
class Delivery:
    routing_key: str
    body: bytes
    headers: dict | None = None
    message_id: str | None = None


def task_event(hub, ident, old, new, owner="alice"):
    info = dict(hub.tasks[ident], state=int(TaskState[new]), owner=owner)
    body = {"id": ident, "method": info["method"], "attribute": "state", "old": old,
            "new": new, "owner": owner, "info": info}
    return Delivery(FEDORA_TASK, json.dumps(body).encode(), message_id=f"t-{ident}-{new}")


def build_event(build_id, name, new, owner="alice", task_id=None):
    return Delivery(FEDORA_BUILD, fedora_build(build_id, name, new, owner=owner,
                                               task_id=task_id),
                    message_id=f"b-{build_id}-{new}")


def plain(row):
    return from_json(row.message).plain()


# DM alerts through the relay -------------------------------------------------------------

@pytest.fixture
def relay_with_alerts(tmp_path, state):
    seeding = tables(state)
    hub = FakeHub(tmp_path)
    seeding.link("irc", "Alice-Account", "alice_", "alice", "alice-account")
    seeding.set_alert(Alert("irc", "alice-account", "owner", "", frozenset({"complete",
                                                                            "failed"})))
    seeding.link("irc", "bob", "bob", "bob", "bob")
    seeding.set_alert(Alert("irc", "bob", "owner", "", frozenset({"complete", "failed"})))
    seeding.db.close()
    store = Store(state)
    alerts = Alerts(store.at_open.people, store.at_open.alerts)
    relay = Relay(store, SubscriptionIndex(), hub, alerts=alerts)
    return store, relay, hub


@pytest_twisted.ensureDeferred
async def test_failed_build_alerts_its_owner_once_with_arch_and_log(relay_with_alerts):
    store, relay, hub = relay_with_alerts
    hub.task(10, FAILED)
    hub.task(11, CLOSED, parent=10, method="buildArch", arch="x86_64")
    hub.task(12, FAILED, parent=10, method="buildArch", arch="aarch64")
    hub.outputs[12] = ["build.log", "root.log"]
    failed = build_event(7, "bash", 3, task_id=10)
    assert await relay.handle([failed, build_event(8, "gcc", 1, owner="carol")]) == ["ack"] * 2
    await relay.handle([failed])  # redelivered
    (row,) = (await store.pending())
    assert (row.target, row.direct) == ("alice_", True)  # the DM of alice's link, nobody else
    assert plain(row) == (
        f"bash-1.0-7.fc41 FAILED (was BUILDING) by alice, took 25m 10s — "
        f"{WEB}/buildinfo?buildID=7 — failed: aarch64 (build.log: "
        f"{TOP}work/tasks/12/12/build.log)")


@pytest_twisted.ensureDeferred
async def test_with_the_hub_away_alerts_go_at_once_without_details(relay_with_alerts):
    store, relay, hub = relay_with_alerts
    hub.down = True
    await relay.handle([build_event(7, "bash", 3, task_id=10)])
    hub.down = False
    hub.task(10, FAILED)
    await relay.handle([build_event(8, "bash", 3, task_id=10)])
    assert [plain(row) for row in (await store.pending())] == [
        f"bash-1.0-{n}.fc41 FAILED (was BUILDING) by alice, took 25m 10s — "
        f"{WEB}/buildinfo?buildID={n}" for n in (7, 8)]
    assert hub.requests == []  # after one failed look-up, the next ones wait a minute


@pytest_twisted.ensureDeferred
async def test_early_srpm_failure_alerts_from_the_task_event(relay_with_alerts):
    store, relay, hub = relay_with_alerts
    hub.task(20, FAILED, owner=2)
    hub.task(21, FAILED, parent=20, method="buildSRPMFromSCM")
    hub.outputs[21] = ["build.log"]
    await relay.handle([task_event(hub, 21, "OPEN", "FAILED", owner="bob"),  # a subtask
                        task_event(hub, 20, "OPEN", "FAILED", owner="bob")])
    (row,) = (await store.pending())
    assert row.target == "bob" and row.direct
    assert plain(row) == (f"Task 20 build bash FAILED (was OPEN) by bob, took 5m 00s — "
                          f"{WEB}/taskinfo?taskID=20 — failed: SRPM (build.log: "
                          f"{TOP}work/tasks/21/21/build.log)")


@pytest_twisted.ensureDeferred
async def test_failed_task_with_a_build_leaves_the_alert_to_the_build(relay_with_alerts):
    store, relay, hub = relay_with_alerts
    hub.task(30, FAILED)
    hub.builds[9] = {"id": 9, "nvr": "bash-1-9", "task_id": 30, "state": 3}
    await relay.handle([task_event(hub, 30, "OPEN", "FAILED")])
    assert (await store.pending()) == []
    assert ["listBuilds"] in hub.requests


@pytest_twisted.ensureDeferred
async def test_a_burst_of_alerts_to_one_person_becomes_a_digest_dm(relay_with_alerts):
    store, relay, _ = relay_with_alerts
    await relay.handle([build_event(n, "bash", 1) for n in range(100, 108)])
    clock, adapter = Clock(), RecordingAdapter()
    pump = OutboxPump(store, {"irc": adapter}, coalesce=5, window=10, reactor=clock,
                      clock=clock.seconds)
    pump.pump()
    await settled(store, pump)
    await advance(clock, 10, store, pump)
    assert [(r.target.name, r.target.direct) for r in adapter.replies] == [("alice_", True)] * 6
    assert adapter.said[-1] == ("3 builds completed: bash-1.0-105.fc41, "
                                "bash-1.0-106.fc41, bash-1.0-107.fc41")


# Watches: bus events, the poll, a restart ------------------------------------------------

def make_watcher(store, hub, clock, **kw):
    queued = []
    watcher = Watcher(store, hub, on_queued=lambda: queued.append(1), reactor=clock,
                      clock=clock.seconds, **kw)
    return watcher, queued


def asking(watcher, hub, nick="al_", room=None):
    """The watches service for al (nick *nick*), asking in *room* (None: a DM)."""
    incoming = Incoming("irc", nick, "", room=room, account="al")
    return Watches(watcher.store, watcher, hub, Identity(watcher.store, None, incoming), room)


async def watch_tree(watcher, hub):
    hub.task(40, OPEN)
    hub.task(41, OPEN, parent=40, method="buildArch", arch="x86_64")
    hub.task(42, OPEN, parent=40, method="buildArch", arch="aarch64")
    watches = asking(watcher, hub, room="#koji")
    found = await watches.look("task", 40)
    assert await watches.add(found)
    assert (found.network, found.identity, found.asker, found.room) == ("irc", "al", "al_",
                                                                        "#koji")
    return found


def close(hub, *idents, state=CLOSED):
    for ident in idents:
        hub.tasks[ident].update(state=state, completion_ts=1767607600.0)


@pytest_twisted.ensureDeferred
async def test_bus_events_end_a_tree_watch_once(tmp_path, state):
    store, hub, clock = Store(state), FakeHub(tmp_path), Clock()
    watcher, queued = make_watcher(store, hub, clock)
    relay = Relay(store, SubscriptionIndex(), hub, reactor=clock)
    relay.listeners.append(watcher.on_event)
    await watch_tree(watcher, hub)
    close(hub, 41)
    await relay.handle([task_event(hub, 41, "OPEN", "CLOSED")])
    assert (await store.pending()) == [] and (await store.watches())[0].states[41] == [40, CLOSED]
    close(hub, 42, 40)
    await relay.handle([task_event(hub, 42, "OPEN", "CLOSED"),
                        task_event(hub, 40, "OPEN", "CLOSED"),
                        task_event(hub, 40, "OPEN", "CLOSED")])  # redelivered
    (row,) = (await store.pending())
    assert (row.target, row.direct) == ("#koji", False)
    assert plain(row).startswith("al_: finished: Task 40 build bash [noarch] CLOSED by alice")
    assert "2/2 buildArch closed" in plain(row)
    assert (await store.watches()) == [] and watcher.watches == {} and queued == [1]
    await relay.handle([task_event(hub, 42, "FREE", "OPEN")])  # stale news of a finished tree
    await advance(clock, 600, store, watcher)
    assert len(await store.pending()) == 1


@pytest_twisted.ensureDeferred
async def test_without_events_the_poll_ends_it_and_survives_a_restart(tmp_path, state):
    clock = Clock()
    store, hub = Store(state, clock=clock.seconds), FakeHub(tmp_path)
    watcher, _ = make_watcher(store, hub, clock, interval=60)
    await watch_tree(watcher, hub)
    watcher.start()
    await advance(clock, 60, store, watcher)
    assert (await store.pending()) == []
    watcher.stop()
    restarted = Store(state)
    again, _ = make_watcher(restarted, hub, clock, interval=60)
    assert next(iter(again.watches.values())).label == "task 40 (build bash)"
    close(hub, 41)
    close(hub, 42, 40, state=FAILED)
    hub.outputs[42] = ["build.log"]
    hub.requests.clear()
    again.start()
    await advance(clock, 6, restarted, again)  # a restart checks every watch after one gap
    (row,) = await restarted.pending()
    assert plain(row).startswith("al_: finished: Task 40 build bash [noarch] FAILED")
    assert plain(row).endswith("failed: aarch64 (build.log: "
                               f"{TOP}work/tasks/42/42/build.log)")
    assert hub.requests[0] == ["getTaskInfo", "getTaskDescendents"]  # one request per round


@pytest_twisted.ensureDeferred
async def test_one_round_checks_at_most_a_batch_in_one_request(tmp_path, state):
    clock = Clock()
    store, hub = Store(state, clock=clock.seconds), FakeHub(tmp_path)
    watcher, _ = make_watcher(store, hub, clock, interval=60, batch=3)
    for ident in range(50, 55):
        hub.task(ident, OPEN)
        watches = asking(watcher, hub, nick="al")
        await watches.add(await watches.look("task", ident))
    hub.requests.clear()
    watcher.start()
    await advance(clock, 60, store, watcher)
    assert hub.requests == [["getTaskInfo", "getTaskDescendents"] * 3]
    await advance(clock, 5, store, watcher)
    assert len(hub.requests) == 1  # the next round waits a tenth of the interval
    await advance(clock, 1, store, watcher)
    assert hub.requests[1] == ["getTaskInfo", "getTaskDescendents"] * 2


@pytest_twisted.ensureDeferred
async def test_an_old_watch_is_dropped_with_a_note(tmp_path, state):
    clock = Clock()
    store, hub = Store(state, clock=clock.seconds), FakeHub(tmp_path)
    watcher, _ = make_watcher(store, hub, clock, interval=3600, max_age=86400)
    hub.task(60, OPEN)
    watches = asking(watcher, hub)
    await watches.add(await watches.look("task", 60))
    watcher.start()
    for _ in range(25):
        await advance(clock, 3600, store, watcher)
    (row,) = (await store.pending())
    assert row.direct and plain(row) == ("stopped watching task 60 (build bash) after 1 day; "
                                         "it is still OPEN.")


# The commands ----------------------------------------------------------------------------

@pytest.fixture
def bot(tmp_path, state):
    settings = config.parse(f"[bot]\nstate = {state}\nadmins = root\n"
                            "rate = 1000\n[koji]\nserver = http://hub.test/kojihub\n")
    return Bot(settings, koji=FakeHub(tmp_path))


async def say(bot, line, room="#koji", sender="alice_", account=None):
    replies = await bot.dispatcher.handle(Incoming("irc", sender, line, room=room,
                                                   account=account))
    return [r.message.plain() for r in replies]


@pytest_twisted.ensureDeferred
async def test_iam_links_and_shows_and_only_admins_link_others(bot):
    assert await say(bot, "!iam") == ["alice_ is not linked to a Koji user; say !iam KOJIUSER."]
    assert await say(bot, "!iam nobody") == ["No such Koji user: nobody"]
    assert await say(bot, "!iam alice") == [
        "Linked alice_ to Koji user alice. !alerts on sends a DM when their builds complete "
        "or fail."]
    assert await say(bot, "!iam") == ["alice_ is Koji user alice."]
    assert await say(bot, "!iam bob bobby") == [
        "Linking someone else is for bot admins; say !iam KOJIUSER to link yourself."]
    assert await say(bot, "!iam bob bobby", sender="x", account="root") == [
        "Linked bobby to Koji user bob. !alerts on sends a DM when their builds complete or "
        "fail."]
    assert bot.alerts.person("irc", "bobby").contact == "bobby"
    assert (await bot.store.person("irc", "bobby")).contact == "bobby"


@pytest_twisted.ensureDeferred
async def test_alerts_commands_and_their_errors(bot):
    assert await say(bot, "!alerts on") == ["First link your Koji user: !iam KOJIUSER"]
    await say(bot, "!iam alice")
    assert await say(bot, "!alerts on exploded") == [
        "Unknown event 'exploded': use started, complete, failed, canceled, deleted or all."]
    assert await say(bot, "!alerts on failed", room=None) == [
        "Alerts on: a DM for builds of alice (failed)."]
    assert await say(bot, "!alerts package python-*") == [
        "Alert on: a DM for package python-* (complete failed)."]
    assert await say(bot, "!alerts") == [
        "Your DM alerts: builds of alice (failed); package python-* (complete failed)"]
    assert bot.alerts.index.match("alice", "bash", "failed") == [("irc", "alice_")]
    assert await say(bot, "!alerts package gcc off") == ["You have no alert for package gcc."]
    await say(bot, "!alerts package gcc")
    assert await say(bot, "!alerts package gcc off") == ["Alert off: package gcc."]
    assert await say(bot, "!alerts package gcc failed not-mine") == [
        "Alert on: a DM for package gcc (failed not-mine)."]
    assert await say(bot, "!alerts on not-mine") == [
        "Unknown event 'not-mine': use started, complete, failed, canceled, deleted or all."]
    assert await say(bot, "!alerts package gcc off") == ["Alert off: package gcc."]
    assert await say(bot, "!alerts off now") == [
        "too many arguments. Usage: !alerts on [EVENT...] | off | package NAME [EVENT...|off]"
        " | buildroot|koji [off] | mine [EVENT...|off]"]
    assert await say(bot, "!alerts package") == [
        "missing NAME. Usage: !alerts on [EVENT...] | off | package NAME [EVENT...|off]"
        " | buildroot|koji [off] | mine [EVENT...|off]"]
    assert await say(bot, "!alerts maybe") == [
        "Unknown 'maybe'. Usage: !alerts on [EVENT...] | off | package NAME [EVENT...|off]"
        " | buildroot|koji [off] | mine [EVENT...|off]"]
    assert await say(bot, "!alerts buildroot maybe") == ["Usage: !alerts buildroot [off]"]
    assert await say(bot, "!alerts buildroot off") == ["You have no buildroot alert."]
    assert await say(bot, "!alerts koji maybe") == ["Usage: !alerts koji [off]"]
    assert await say(bot, "!alerts koji off") == ["You have no koji alert."]
    assert await say(bot, "!alerts mine soon") == [
        "Unknown event 'soon': use started, complete, failed, canceled, deleted or all."]
    assert await say(bot, "!alerts off") == ["Alerts off (2 removed)."]
    assert bot.alerts.index.match("alice", "bash", "failed") == []
    assert await say(bot, "!alerts off") == ["You had no alerts."]


@pytest_twisted.ensureDeferred
async def test_watch_commands_and_their_errors(bot):
    hub = bot.koji
    hub.task(70, CLOSED)
    hub.task(71, OPEN)
    (finished,) = await say(bot, "!watch 70")
    assert finished.startswith("Task 70 build bash [noarch] CLOSED by alice")
    assert finished.endswith(" — already finished; not watching it.")
    assert await say(bot, "!watch 99") == ["No such task: 99"]
    assert await say(bot, "!watch bash-0-0") == ["No such build: bash-0-0"]
    assert await say(bot, "!watch 1 2 3 4 5 6") == ["At most 5 at once, please."]
    assert await say(bot, "!watch") == ["missing ID|NVR. Usage: !watch ID|NVR [ID|NVR...]"]
    (watching,) = await say(bot, "!watch 71")
    assert watching.startswith("Watching: Task 71 build bash [noarch] OPEN by alice")
    assert watching.endswith(" — I will say here when it ends.")
    (again,) = await say(bot, "!watch 71", room=None)
    assert again.startswith("Still watching: ") and again.endswith("in this DM when it ends.")
    assert await say(bot, "!watches") == [
        "Watching 1: task 71 (build bash) OPEN (reported in a DM)"]
    assert await say(bot, "!unwatch 70") == [
        "You are not watching 70; !watches lists what you watch."]
    assert await say(bot, "!unwatch 71") == ["Stopped watching task 71 (build bash)."]
    assert await say(bot, "!watches") == [
        "You are not watching anything; !watch ID|NVR follows a task or build."]
    assert bot.watcher.watches == {}
    for ident in range(100, 121):
        hub.task(ident, OPEN)
    await say(bot, "!watch 100 101 102 103 104")
    for first in range(105, 120, 5):
        await say(bot, "!watch " + " ".join(str(n) for n in range(first, first + 5)))
    assert await say(bot, "!watch 120") == [
        "You are watching 20 things already; !unwatch one first."]
    assert (await say(bot, "!watch 119"))[0].startswith("Still watching: ")
