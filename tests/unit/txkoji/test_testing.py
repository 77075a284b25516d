"""txkoji.testing: the in-memory hub speaks koji's XML-RPC through the transport seam."""

from __future__ import annotations

import pytest
import pytest_twisted

import txkoji
from txkoji.testing import HubDouble


@pytest.fixture
def hub():
    double = HubDouble()
    double.methods["getTaskInfo"] = lambda task_id, request=False: (
        {"id": task_id, "method": "build", "state": 2, "owner": 1, "big": 2**40,
         "parent": None, "request": ["git+https://src.test/rpms/bash.git#1", "f41", {}]}
        if task_id == 10 else None)
    double.methods["listBuilds"] = lambda **kwargs: [kwargs]
    return double


@pytest_twisted.ensureDeferred
async def test_calls_decode_into_rich_objects(hub):
    koji = hub.connection(weburl="https://koji.test/koji")
    task = await koji.getTaskInfo(10, request=True)
    assert isinstance(task, txkoji.Task)
    assert (task.state_name, task.package, task["big"]) == ("CLOSED", "bash", 2**40)
    assert task.url == "https://koji.test/koji/taskinfo?taskID=10"
    assert await koji.getTaskInfo(11) is None
    assert hub.calls[0] == ("getTaskInfo", (10,), {"request": True})


@pytest_twisted.ensureDeferred
async def test_keywords_and_multicall_travel_as_on_a_hub(hub):
    koji = hub.connection()
    (found,) = await koji.listBuilds(packageID="bash", state=0, queryOpts={"limit": 1})
    assert dict(found) == {"packageID": "bash", "state": 0, "queryOpts": {"limit": 1}}
    multicall = koji.MultiCall()
    multicall.getTaskInfo(10)
    multicall.listBuilds(taskID=10)
    multicall.noSuchMethod()
    results = await multicall()
    assert results[0]["id"] == 10 and results[1] == [{"taskID": 10}]
    with pytest.raises(txkoji.GenericError, match="Invalid method: noSuchMethod"):
        results[2]
    assert hub.requests[-1] == ["getTaskInfo", "listBuilds", "noSuchMethod"]


@pytest_twisted.ensureDeferred
async def test_faults_and_outages_raise_what_a_real_hub_makes_txkoji_raise(hub):
    def refuse(name):
        raise txkoji.ParameterError(f"no tag {name}")

    hub.methods["getTag"] = refuse
    hub.methods["crash"] = lambda: 1 / 0
    koji = hub.connection()
    with pytest.raises(txkoji.ParameterError, match="no tag f99"):
        await koji.getTag("f99")
    with pytest.raises(txkoji.KojiException) as crashed:
        await koji.crash()
    assert crashed.value.code == 1 and "ZeroDivisionError" in str(crashed.value)
    hub.down = True
    with pytest.raises(txkoji.KojiTransportError, match="connection refused"):
        await koji.getTaskInfo(10)
