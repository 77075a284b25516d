"""The id → name cache and the duration/ETA estimates, against the real hub."""

import json
from datetime import timedelta

import pytest_twisted
from twisted.internet import defer

import txkoji
from txkoji import estimates
from txkoji.cache import Cache
from txkoji.times import from_ts


class CountingConnection(txkoji.Connection):
    """A real Connection that counts the requests it sends to the hub."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.requests = []

    async def raw_call(self, method, *args, **kwargs):
        self.requests.append(method)
        return await super().raw_call(method, *args, **kwargs)


@pytest_twisted.ensureDeferred
async def test_cache_hit_makes_no_call_and_misses_share_one(kojihub, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    koji = CountingConnection(server=kojihub.url)
    alice = kojihub.facts["users"]["alice"]
    names = await defer.gatherResults([koji.cache.user_name(alice) for _ in range(5)])
    assert names == ["alice"] * 5 and koji.requests == ["getUser"]
    assert await koji.cache.user_name(alice) == "alice" and len(koji.requests) == 1
    tag_id = kojihub.facts["tags"]["f41-build"]
    assert await koji.cache.tag_name(tag_id) == "f41-build"
    assert koji.requests == ["getUser", "getTag"]
    assert await koji.cache.user_name(99999) is None

    stored = next((tmp_path / "txkoji").glob("*/users.json"))
    assert json.loads(stored.read_text())[str(alice)][0] == "alice"
    # a new connection (a restart) reads the disk cache: still no call
    again = CountingConnection(server=kojihub.url)
    assert await again.cache.user_name(alice) == "alice" and again.requests == []
    await koji.close()
    await again.close()


@pytest_twisted.ensureDeferred
async def test_cache_entries_expire(kojihub, tmp_path):
    now = [1000.0]
    koji = CountingConnection(server=kojihub.url)
    cache = Cache(koji, directory=str(tmp_path), max_age=60, clock=lambda: now[0])
    alice = kojihub.facts["users"]["alice"]
    await cache.user_name(alice)
    now[0] += 59
    await cache.user_name(alice)
    assert len(koji.requests) == 1
    now[0] += 2
    await cache.user_name(alice)
    assert len(koji.requests) == 2
    await koji.close()


@pytest_twisted.ensureDeferred
async def test_average_build_duration(koji, hub_proxy):
    assert await estimates.average_build_duration(koji, "bash") == \
        timedelta(seconds=hub_proxy.getAverageBuildDuration("bash"))


@pytest_twisted.ensureDeferred
async def test_container_average_is_mean_of_last_five(koji, hub_proxy):
    raw = hub_proxy.listBuilds({"packageID": "fedora-toolbox-container", "state": 1,
                                "__starstar": True})
    raw.sort(key=lambda b: b["completion_ts"], reverse=True)
    spans = [b["completion_ts"] - b["start_ts"] for b in raw[:5]]
    expected = timedelta(seconds=sum(spans) / len(spans))
    average = await estimates.average_build_duration(koji, "fedora-toolbox-container")
    assert abs(average - expected) < timedelta(milliseconds=1)


@pytest_twisted.ensureDeferred
async def test_many_averages_in_one_request(kojihub):
    koji = CountingConnection(server=kojihub.url)
    averages = await estimates.average_build_durations(
        koji, ["bash", "fedora-toolbox-container", "no-such-package"])
    assert koji.requests == ["system.multicall"]
    assert averages["bash"] == await koji.getAverageBuildDuration("bash")
    assert averages["fedora-toolbox-container"] == await estimates.average_build_duration(
        koji, "fedora-toolbox-container")
    assert averages["no-such-package"] is None
    await koji.close()


@pytest_twisted.ensureDeferred
async def test_eta_of_running_build_is_start_plus_average(koji, hub_proxy, kojihub):
    fact = kojihub.facts["builds"]["building"]
    build = await koji.getBuild(fact["id"])
    average = hub_proxy.getAverageBuildDuration(build.package_name)
    assert average is not None, "the fixture's BUILDING build must have a build history"
    eta = await estimates.estimate_completion(koji, build)
    assert eta == from_ts(hub_proxy.getBuild(fact["id"])["start_ts"]) + timedelta(seconds=average)


@pytest_twisted.ensureDeferred
async def test_eta_of_finished_build_is_its_completion(koji, kojihub):
    build = await koji.getBuild(kojihub.facts["builds"]["complete"]["id"])
    assert await estimates.estimate_completion(koji, build) == build.completed


@pytest_twisted.ensureDeferred
async def test_eta_of_free_task_waits_for_channel_room(koji, kojihub, hub_proxy):
    task = await koji.getTaskInfo(kojihub.facts["tasks"]["free"])
    assert task.state_name == "FREE" and task.package
    hosts = hub_proxy.listHosts({"channelID": task.channel_id, "enabled": True, "ready": True,
                                 "__starstar": True})
    assert sum(h["capacity"] for h in hosts) > 0, "the fixture's host must be ready"
    queued = hub_proxy.listTasks({"state": [0], "channel_id": task.channel_id})
    average = await estimates.average_build_duration(koji, task.package)
    wait = estimates.wait_for_room(sum(h["capacity"] for h in hosts),
                                   sum(h["task_load"] for h in hosts), queued, task, average)
    now = from_ts(kojihub.facts["epoch_ts"])
    assert await estimates.estimate_completion(koji, task, now=now) == now + wait + average
