"""Rich objects and kojiweb URLs, without a hub."""

from datetime import UTC, datetime, timedelta

import pytest

from txkoji import web
from txkoji.build import Build
from txkoji.estimates import mean_duration, wait_for_room
from txkoji.rpc import encode_call
from txkoji.task import Task, package_from_src
from txkoji.testing import HubDouble

SRPM = "tasks/1/2/bash-5.2.26-3.fc41.src.rpm"
SCM = "git+https://src.example.test/rpms/bash.git#0123abcd"


@pytest.mark.parametrize("method,request_,expect", [
    ("build", [SCM, "f41", {"scratch": True}],
     {"package": "bash", "target": "f41", "is_scratch": True}),
    ("buildArch", [SRPM, 7, "aarch64", False, {}],
     {"package": "bash", "nvr": "bash-5.2.26-3.fc41", "arch": "aarch64", "tag": 7}),
    ("buildSRPMFromSCM", [SCM, 7, {}], {"package": "bash", "tag": 7}),
    ("tagBuild", [3, 42, False, None, False], {"tag": 3, "build_id": 42}),
    ("newRepo", ["f41-build"], {"tag": "f41-build"}),
    ("createrepo", [9, "x86_64", None], {"arch": "x86_64"}),
    ("image", ["fedora-cloud", "41", ["x86_64"], "f41", "http://x/tree", {}],
     {"package": "fedora-cloud", "target": "f41"}),
    ("createImage", ["fedora-cloud", "41", "1", "x86_64", {"name": "f41"}, 5, {}, "t", {}],
     {"package": "fedora-cloud", "arch": "x86_64", "tag": 5}),
])
def test_task_fields_from_request(method, request_, expect):
    task = Task({"id": 1, "method": method, "request": request_, "arch": "noarch"})
    for name, value in expect.items():
        assert getattr(task, name) == value, name


def test_raw_xml_request_is_decoded():
    raw = encode_call("buildArch", (SRPM, 7, "x86_64", False, {})).decode()
    task = Task({"id": 1, "method": "buildArch", "request": raw})
    assert task.nvr == "bash-5.2.26-3.fc41" and task.arch == "x86_64"


def test_unknown_method_and_short_request_are_harmless():
    task = Task({"id": 9, "method": "somethingNew", "request": [], "arch": "noarch"})
    assert task.package is None and task.arch == "noarch" and task.label == "somethingNew"
    assert Task({"id": 9, "method": "buildArch", "request": [SRPM]}).arch is None


def test_package_from_src():
    assert package_from_src(SCM) == "bash"
    assert package_from_src("git://pkgs.example.test/rpms/python-foo?#abc") == "python-foo"
    assert package_from_src("cli-build/1.2/python-foo-1.0-1.fc41.src.rpm") == "python-foo"
    assert package_from_src(None) is None
    assert package_from_src("git+https://[::1/rpms/odd.git#1") == "odd"


def test_task_times_are_aware_utc():
    task = Task({"id": 1, "method": "build", "state": 2, "create_ts": 1767607200.0,
                 "start_ts": 1767607260.0, "completion_ts": 1767610860.5})
    assert task.created == datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    assert task.duration == timedelta(seconds=3600.5)
    assert task.state_name == "CLOSED" and not task.is_open


def test_build_properties_and_url():
    build = Build.from_info({"id": 12, "name": "bash", "version": "5.2", "release": "1",
                             "state": 3, "start_ts": 100.0, "completion_ts": 160.0,
                             "task_id": None, "extra": {"container_koji_task_id": "77"}},
                            HubDouble().connection(weburl="https://koji.example.test/koji"))
    assert build.nvr == "bash-5.2-1" and build.state_name == "FAILED"
    assert build.duration == timedelta(seconds=60) and build.task_id == 77
    assert build.url == "https://koji.example.test/koji/buildinfo?buildID=12"
    assert Build.from_info(None) is None


def test_build_time_strings_without_ts():
    build = Build({"id": 1, "start_time": "2026-01-05 10:00:00+00:00",
                   "completion_time": "2026-01-05 11:30:00"})
    assert build.duration == timedelta(minutes=90)
    assert build.started.tzinfo is not None


def test_weburl_parsing():
    assert web.parse_url("https://k.test/koji/taskinfo?taskID=42") == \
        web.WebTarget("taskinfo", "getTaskInfo", 42)
    assert web.parse_url("https://k.test/koji/buildtargetinfo?targetID=3").method == \
        "getBuildTarget"
    assert web.parse_url("https://k.test/koji/taskinfo?taskID=") is None
    assert web.parse_url("https://k.test/koji/search?terms=x") is None
    assert web.parse_url("https://k.test/koji/taskinfo?task ID=1") is None
    assert web.page_url("https://k.test/koji/", "userinfo", 5) == \
        "https://k.test/koji/userinfo?userID=5"


def test_mean_duration_skips_unfinished():
    builds = [Build({"start_ts": 0, "completion_ts": 60}), Build({"start_ts": 0}),
              Build({"start_ts": 0, "completion_ts": 180})]
    assert mean_duration(builds) == timedelta(minutes=2)
    assert mean_duration([]) is None


def test_queue_wait_model():
    hour = timedelta(hours=1)
    task = {"id": 10, "priority": 20, "weight": 1.0}
    queued = [{"id": 5, "priority": 20, "weight": 2.0}, {"id": 11, "priority": 20, "weight": 9},
              {"id": 12, "priority": 10, "weight": 1.0}, task]
    # room for everything ahead: starts now
    assert wait_for_room(10.0, 0.0, queued, task, hour) == timedelta()
    # load 4 + ahead 3 (ids 5 and 12) + own 1 = 8 on capacity 4: one full turn to wait
    assert wait_for_room(4.0, 4.0, queued, task, hour) == hour
    assert wait_for_room(2.0, 4.0, queued, task, hour) == 3 * hour


def test_weburl_ids_beyond_what_a_hub_takes_name_no_page():
    assert web.parse_url(f"https://k.test/koji/taskinfo?taskID={2**63 - 1}").id == 2**63 - 1
    assert web.parse_url(f"https://k.test/koji/taskinfo?taskID={2**63}") is None
    assert web.parse_url("https://k.test/koji/taskinfo?taskID=0") is None
    assert web.parse_url("https://k.test/koji/taskinfo?taskID=\u0661\u0662") is not None  # text
