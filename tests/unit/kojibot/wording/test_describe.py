"""Status lines of tasks and builds, without a hub: each time fact said once, short enough
for one IRC line."""

from datetime import UTC, datetime, timedelta

from kojibot.wording.describe import build_event_line, build_line, task_line
from txkoji.build import Build
from txkoji.task import Task

NOW = datetime(2026, 3, 14, 10, 20, tzinfo=UTC)
CREATED = datetime(2026, 3, 14, 9, 0, tzinfo=UTC).timestamp()
SCM = "git+https://src.example.test/rpms/python-requests.git#0123abcd"


def task(state: int, **times) -> Task:
    return Task({"id": 123456789, "method": "build", "state": state, "owner": 7,
                 "request": [SCM, "f41-candidate", {}], "arch": "noarch", "create_ts": CREATED,
                 **times})


def test_an_ended_task_says_how_long_and_when_once():
    line = task_line(task(2, start_ts=CREATED + 60, completion_ts=CREATED + 60 + 3660),
                     "alice", [], None, NOW).plain()
    assert line == ("Task 123456789 build python-requests [noarch] CLOSED by alice "
                    "in 1h 01m, ended 2026-03-14 10:02 UTC")
    assert len(line) < 200


def test_a_running_task_says_how_long_so_far_and_its_eta_on_todays_clock():
    line = task_line(task(1, start_ts=CREATED + 60), "alice", [],
                     NOW + timedelta(minutes=25), NOW).plain()
    assert line.endswith("OPEN by alice, running 1h 19m, ETA 10:45 UTC (in 25m 00s)")
    assert "created" not in line and "started" not in line


def test_a_waiting_task_says_since_when():
    line = task_line(task(0), "alice", [], None, NOW).plain()
    assert line.endswith("FREE by alice, waiting since 2026-03-14 09:00 UTC")


def test_an_eta_on_another_day_names_the_day():
    line = task_line(task(1, start_ts=CREATED), "alice", [], NOW + timedelta(days=1), NOW)
    assert line.plain().endswith("ETA 2026-03-15 10:20 UTC (in 1d 0h)")


def test_a_build_line_puts_its_times_after_the_owner():
    build = Build.from_info({"id": 12, "name": "bash", "version": "5.2", "release": "1.fc41",
                             "state": 1, "owner_name": "alice", "task_id": 77,
                             "start_ts": CREATED, "completion_ts": CREATED + 2460})
    assert build_line(build, ["f41"], None, NOW).plain() == (
        "Build bash-5.2-1.fc41 COMPLETE by alice in 41m 00s, ended 2026-03-14 09:41 UTC, "
        "task 77, tags: f41")


def test_a_build_that_took_no_time_does_not_say_so():
    empty = Build(name="e", version="1", release="1", nvr="e-1-1", start_ts=100.0,
                  completion_ts=100.0)
    assert build_event_line(empty, "COMPLETE", None, "alice", None).plain() == \
        "e-1-1 COMPLETE by alice"
    deleted = Build(empty, completion_ts=400.0)
    assert build_event_line(deleted, "DELETED", "COMPLETE", None, None).plain() == \
        "e-1-1 DELETED (was COMPLETE)"
    assert build_event_line(deleted, "COMPLETE", None, None, None).plain() == \
        "e-1-1 COMPLETE, took 5m 00s"
