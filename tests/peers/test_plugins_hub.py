"""The query commands against the real hub: answers carry the hub's own values."""

import re
from datetime import UTC, datetime

import pytest
import pytest_twisted

from kojibot import config
from kojibot.bot import Bot
from kojibot.chat.model import Incoming


@pytest.fixture(scope="module")
def bot(kojihub, tmp_path_factory):
    state = tmp_path_factory.mktemp("state") / "state.sqlite3"
    settings = config.parse(f"[bot]\nrate = 1000\nstate = {state}\n"
                            f"[koji]\nserver = {kojihub.url}\nweburl = {kojihub.weburl}\n")
    return Bot(settings)


def ended(raw: dict) -> str:
    """How a line names the moment a hub record ended."""
    return datetime.fromtimestamp(raw["completion_ts"], UTC).strftime("%Y-%m-%d %H:%M UTC")


async def ask(bot, line, room="#koji"):
    replies = await bot.dispatcher.handle(
        Incoming("irc", "alice", line, room=room, bot_name="kojibot"))
    assert len(replies) == 1, replies
    return replies[0].message.plain()


@pytest_twisted.ensureDeferred
async def test_task_line(bot, kojihub, hub_proxy):
    task_id = kojihub.facts["builds"]["complete"]["task_id"]
    raw = hub_proxy.getTaskInfo(task_id, True)
    line = await ask(bot, f"!task {task_id}")
    owner = hub_proxy.getUser(raw["owner"])["name"]
    url = f"{kojihub.weburl}/taskinfo?taskID={task_id}"
    assert line.startswith(f"Task {task_id} build ")
    assert re.search(rf" CLOSED by {owner}( in [0-9hms ]+)?, ended {ended(raw)} — ", line), line
    assert "created" not in line and "started" not in line  # each fact once
    assert "2/2 buildArch closed" in line
    assert line.endswith(url) and len(line) - len(url) < 200


@pytest_twisted.ensureDeferred
async def test_failed_build_task_names_failed_arch(bot, kojihub, hub_proxy):
    task_id = kojihub.facts["builds"]["failed"]["task_id"]
    children = hub_proxy.getTaskChildren(task_id)
    failed = sorted(c["arch"] for c in children if c["state"] == 5 and c["method"] == "buildArch")
    line = await ask(bot, f"!task {task_id}")
    assert " FAILED " in line and f"failed: {' '.join(failed)}" in line


@pytest_twisted.ensureDeferred
async def test_build_line(bot, kojihub, hub_proxy):
    fact = kojihub.facts["builds"]["complete"]
    raw = hub_proxy.getBuild(fact["id"])
    tags = sorted(t["name"] for t in hub_proxy.listTags(fact["id"]))
    line = await ask(bot, f"!build {fact['nvr']}")
    assert re.match(rf"Build {raw['nvr']} COMPLETE by {raw['owner_name']}( in [0-9hms ]+)?"
                    rf", ended {ended(raw)}, task ", line), line
    assert f"task {raw['task_id']}" in line and f"tags: {' '.join(tags)}" in line
    assert line.endswith(f"{kojihub.weburl}/buildinfo?buildID={fact['id']}")
    assert await ask(bot, f"!build {fact['id']}") == line


@pytest_twisted.ensureDeferred
async def test_building_build_has_eta(bot, kojihub):
    line = await ask(bot, f"!build {kojihub.facts['builds']['building']['nvr']}")
    assert " BUILDING " in line and "ETA " in line


@pytest_twisted.ensureDeferred
async def test_user_line(bot, kojihub, hub_proxy):
    raw = hub_proxy.getUser("alice")
    line = await ask(bot, "!user alice")
    assert line.startswith(f"User alice (id {raw['id']}, user) NORMAL")
    assert line.endswith(f"{kojihub.weburl}/userinfo?userID={raw['id']}")


@pytest_twisted.ensureDeferred
async def test_eta_and_latest(bot, kojihub, hub_proxy):
    average = hub_proxy.getAverageBuildDuration("bash")
    building = kojihub.facts["builds"]["building"]["nvr"]
    line = await ask(bot, "!eta bash")
    minutes, seconds = divmod(int(average), 60)
    assert line.startswith(f"bash: average build {minutes}m {seconds:02d}s; 1 building: "
                           f"{building} ETA ")
    latest = hub_proxy.getLatestBuilds("f41-updates", None, hub_proxy.listTagged(
        "f41-updates")[0]["package_name"])[0]
    line = await ask(bot, f"!latest f41-updates {latest['package_name']}")
    assert line.startswith(f"{latest['nvr']} is the latest {latest['package_name']} in "
                           "f41-updates")


@pytest_twisted.ensureDeferred
async def test_missing_things_are_one_line(bot):
    assert await ask(bot, "!task 99999999") == "No such task: 99999999"
    assert await ask(bot, "!build no-such-1-1") == "No such build: no-such-1-1"
    assert await ask(bot, "!user nobody-here") == "No such user: nobody-here"
    assert await ask(bot, "!eta no-such-package") == "No such package: no-such-package"
    assert await ask(bot, "!latest no-such-tag bash") == "No such tag: no-such-tag"


@pytest_twisted.ensureDeferred
async def test_pasted_link_is_answered_like_the_command(bot, kojihub):
    task_id = kojihub.facts["builds"]["complete"]["task_id"]
    command_answer = await ask(bot, f"!task {task_id}")
    linked = await ask(bot, f"look at {kojihub.weburl}/taskinfo?taskID={task_id}, odd")
    assert linked == command_answer
    other_hub = await bot.dispatcher.handle(Incoming(
        "irc", "alice", "https://elsewhere.test/koji/taskinfo?taskID=1", room="#koji"))
    assert other_hub == []


@pytest_twisted.ensureDeferred
async def test_help(bot):
    assert await ask(bot, "!help") == (
        "Commands: alerts, build, eta, help, iam, latest, subscribe, subscriptions, task, "
        "unsubscribe, unwatch, user, watch, watches, why. !help COMMAND tells more.")
    assert await ask(bot, "!help task") == (
        "Usage: !task ID — Show a task: method, package, arch, state, owner, times or ETA, "
        "and its kojiweb link.")


@pytest_twisted.ensureDeferred
async def test_hub_down_is_one_line_within_10_s(kojihub, tmp_path):
    from twisted.internet import reactor

    settings = config.parse(f"[bot]\nstate = {tmp_path}/state.sqlite3\n"
                            "[koji]\nserver = http://127.0.0.1:9/kojihub\n")
    down = Bot(settings)
    started = reactor.seconds()
    line = await ask(down, "!task 1")
    assert reactor.seconds() - started < 10
    assert line.startswith("Cannot reach the Koji hub: connection refused")
    assert "http://127.0.0.1:9/kojihub" in line and "\n" not in line
