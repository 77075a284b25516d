"""txkoji against the real Koji hub: calls, rich results, MultiCall, faults and retries.

Expected values are read back from the hub with xmlrpc.client, never hard-coded.
Transport failures and other server shapes: tests/peers/test_hub_servers.py.
"""

from datetime import timedelta

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet import task as txtask
from twisted.logger import LogLevel, formatEvent, globalLogPublisher

import txkoji
from txkoji.build import Build
from txkoji.channel import Channel
from txkoji.package import Package
from txkoji.task import Task
from txkoji.times import from_ts


def _span(info, start, end):
    return from_ts(info[end]) - from_ts(info[start])


@pytest_twisted.ensureDeferred
async def test_build_task_is_rich(koji, hub_proxy, kojihub):
    task_id = kojihub.facts["builds"]["complete"]["task_id"]
    raw = hub_proxy.getTaskInfo(task_id, True)
    task = await koji.getTaskInfo(task_id)
    assert isinstance(task, Task)
    assert task.method == "build" and task.state_name == "CLOSED"
    assert task.package == kojihub.facts["builds"]["complete"]["package"]
    assert task.duration == _span(raw, "start_ts", "completion_ts")
    assert task.created == from_ts(raw["create_ts"]) and task.created.tzinfo is not None
    assert task.target == raw["request"][1]
    assert task.url == f"{kojihub.weburl}/taskinfo?taskID={task_id}"


@pytest_twisted.ensureDeferred
async def test_build_is_rich(koji, hub_proxy, kojihub):
    fact = kojihub.facts["builds"]["complete"]
    raw = hub_proxy.getBuild(fact["id"])
    build = await koji.getBuild(fact["nvr"])
    assert isinstance(build, Build)
    assert build.nvr == raw["nvr"] and build.state_name == "COMPLETE"
    assert build.duration == _span(raw, "start_ts", "completion_ts") > timedelta()
    assert build.task_id == raw["task_id"] == fact["task_id"]
    assert build.url == f"{kojihub.weburl}/buildinfo?buildID={fact['id']}"


@pytest_twisted.ensureDeferred
async def test_states_of_seeded_builds(koji, kojihub):
    names = {}
    for key in ("building", "complete", "failed", "canceled"):
        build = await koji.getBuild(kojihub.facts["builds"][key]["id"])
        names[key] = build.state_name
    assert names == {"building": "BUILDING", "complete": "COMPLETE", "failed": "FAILED",
                     "canceled": "CANCELED"}
    building = await koji.getBuild(kojihub.facts["builds"]["building"]["id"])
    assert building.completed is None and building.duration is None


@pytest_twisted.ensureDeferred
async def test_container_build_task_id_from_extra(koji, hub_proxy, kojihub):
    builds = await koji.listBuilds(packageID="fedora-toolbox-container", state=1)
    assert len(builds) >= 5
    for build in builds:
        raw = hub_proxy.getBuild(build["build_id"])
        assert build.url == f"{kojihub.weburl}/buildinfo?buildID={build['build_id']}"
        assert raw["task_id"] is None
        assert build.task_id == int(raw["extra"]["container_koji_task_id"])


@pytest_twisted.ensureDeferred
async def test_missing_records_are_none(koji):
    assert await koji.getBuild("no-such-build-1-1") is None
    assert await koji.getTaskInfo(99999999) is None
    assert await koji.getPackage("no-such-package") is None
    assert await koji.getAverageBuildDuration("no-such-package") is None


@pytest_twisted.ensureDeferred
async def test_descendents_are_tasks_with_arches(koji, hub_proxy, kojihub):
    task_id = kojihub.facts["builds"]["complete"]["task_id"]
    children = await koji.getTaskDescendents(task_id)
    raw = hub_proxy.getTaskDescendents(task_id)
    assert sorted(t["id"] for t in children) == sorted(
        t["id"] for kids in raw.values() for t in kids)
    arches = sorted(t.arch for t in children if t.method == "buildArch")
    assert arches == ["aarch64", "x86_64"]
    assert all(isinstance(t, Task) for t in children)
    package = kojihub.facts["builds"]["complete"]["package"]
    assert {t.method: t.package for t in children if t.method != "tagBuild"} == {
        "buildSRPMFromSCM": package, "buildArch": package}
    (tag_task,) = [t for t in children if t.method == "tagBuild"]
    assert tag_task.build_id == kojihub.facts["builds"]["complete"]["id"]


@pytest_twisted.ensureDeferred
async def test_lists_are_rich(koji, hub_proxy):
    tagged = await koji.listTagged("f41-updates", latest=True)
    assert tagged and all(isinstance(b, Build) for b in tagged)
    assert [b.nvr for b in tagged] == [b["nvr"] for b in hub_proxy.listTagged(
        "f41-updates", {"latest": True, "__starstar": True})]
    tasks = await koji.listTasks({"method": "buildArch"})
    assert tasks and all(isinstance(t, Task) and t.arch in ("x86_64", "aarch64") for t in tasks)


@pytest_twisted.ensureDeferred
async def test_package_and_channel(koji, hub_proxy, kojihub):
    package = await koji.getPackage("bash")
    assert isinstance(package, Package)
    assert package.url == f"{kojihub.weburl}/packageinfo?packageID={package.id}"
    channel = await koji.getChannel("default")
    assert isinstance(channel, Channel)
    hosts = await channel.hosts()
    assert [h.name for h in hosts] == [h["name"] for h in hub_proxy.listHosts(
        {"channelID": channel.id, "__starstar": True})]


@pytest_twisted.ensureDeferred
async def test_average_duration_is_timedelta(koji, hub_proxy):
    average = await koji.getAverageBuildDuration("bash")
    assert average == timedelta(seconds=hub_proxy.getAverageBuildDuration("bash"))


@pytest_twisted.ensureDeferred
async def test_none_and_64_bit_round_trip(koji):
    value = [None, 2**40, -(2**62), {"a": None, "b": [2**33]}]
    assert await koji.echo(*value) == value


@pytest_twisted.ensureDeferred
async def test_multicall_gives_rich_results_and_per_call_faults(koji, kojihub):
    fact = kojihub.facts["builds"]["complete"]
    multicall = koji.MultiCall()
    multicall.getBuild(fact["id"])
    multicall.getTaskInfo(fact["task_id"])
    multicall.getAverageBuildDuration("bash")
    multicall.getBuildTarget("f41")
    multicall.getTaskInfo()  # wrong arguments: a ParameterError for this call only
    multicall.getPackage("bash")
    results = await multicall()
    assert len(multicall) == 0 and len(results) == 6
    build, task, average, target = results[0], results[1], results[2], results[3]
    assert isinstance(build, Build) and build.nvr == fact["nvr"]
    assert isinstance(task, Task) and task.method == "build"
    assert isinstance(average, timedelta)
    assert not isinstance(target, Build) and target.name == "f41"  # exact method names
    with pytest.raises(txkoji.ParameterError):
        results[4]
    assert isinstance(results[5], Package)
    with pytest.raises(txkoji.ParameterError):
        list(results)


@pytest_twisted.ensureDeferred
async def test_hub_faults_raise_named_classes(koji):
    with pytest.raises(txkoji.GenericError) as info:
        await koji.getBuildTarget("no-such-target", strict=True)
    assert info.value.code == 1000 and "no-such-target" in str(info.value)
    with pytest.raises(txkoji.ParameterError):
        await koji.getTaskInfo()
    with pytest.raises(txkoji.ActionNotAllowed):
        await koji.createTag("anonymous-may-not")
    with pytest.raises(txkoji.KojiException, match="Invalid method"):
        await koji.noSuchMethod()


@pytest_twisted.ensureDeferred
async def test_from_web(koji, kojihub):
    fact = kojihub.facts["builds"]["complete"]
    build = await koji.from_web(f"{kojihub.weburl}/buildinfo?buildID={fact['id']}")
    assert isinstance(build, Build) and build.nvr == fact["nvr"]
    task = await koji.from_web(f"{kojihub.weburl}/taskinfo?taskID={fact['task_id']}")
    assert isinstance(task, Task)
    alice = kojihub.facts["users"]["alice"]
    user = await koji.from_web(f"{kojihub.weburl}/userinfo?userID={alice}")
    assert user.name == "alice"
    assert await koji.from_web(f"{kojihub.weburl}/reports") is None


@pytest_twisted.ensureDeferred
async def test_server_offline_is_retried_then_succeeds(kojihub):
    koji = txkoji.Connection(server=kojihub.url, retries=6, retry_interval=0.1)
    kojihub.set_offline(True)
    try:
        call = koji.getBuild(kojihub.facts["builds"]["complete"]["id"])
        await txtask.deferLater(reactor, 0.5, lambda: None)
        assert not call.called
    finally:
        kojihub.set_offline(False)
    build = await call
    assert build.state_name == "COMPLETE"
    await koji.close()


@pytest_twisted.ensureDeferred
async def test_server_offline_gives_up_and_says_so_once(kojihub):
    koji = txkoji.Connection(server=kojihub.url, retries=1, retry_interval=0.05)
    kojihub.set_offline(True)
    events = []
    globalLogPublisher.addObserver(events.append)
    try:
        with pytest.raises(txkoji.ServerOffline) as info:
            await koji.getBuild(1)
    finally:
        globalLogPublisher.removeObserver(events.append)
        kojihub.set_offline(False)
        await koji.close()
    warned = [formatEvent(e) for e in events if e.get("log_level") == LogLevel.warn]
    assert warned == [f"hub call getBuild failed: {info.value}"]
