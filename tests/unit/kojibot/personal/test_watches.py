"""A watch's merge rule and poll schedule: news never undoes newer news; polls stay bounded."""

from kojibot.personal.watches import PollSchedule, is_done, merge, merge_all
from kojibot.state.store import WatchRecord
from txkoji.states import TaskState

FREE, OPEN, CLOSED, FAILED = (int(TaskState[n]) for n in ("FREE", "OPEN", "CLOSED", "FAILED"))


def tree_watch():
    watch = WatchRecord("irc", "alice", "alice", "#koji", "task", 10, "task 10 (build bash)")
    merge_all(watch, [(10, None, OPEN), (11, 10, OPEN), (12, 10, OPEN)])
    return watch


def test_old_or_repeated_news_never_undoes_newer_news():
    watch = tree_watch()
    assert merge(watch, 11, 10, CLOSED)
    assert not merge(watch, 11, 10, OPEN)  # late, out of order
    assert not merge(watch, 11, 10, CLOSED)  # redelivered
    assert not merge(watch, 11, 10, FREE)
    assert watch.states[11] == [10, CLOSED]


def test_a_tree_is_done_when_root_and_every_subtask_are_final():
    watch = tree_watch()
    merge(watch, 10, None, FAILED)
    assert not is_done(watch)  # children still open
    merge(watch, 13, 10, FREE)
    merge_all(watch, [(11, 10, CLOSED), (12, 10, FAILED)])
    assert not is_done(watch)
    merge(watch, 13, 10, CLOSED)
    assert is_done(watch)


def test_build_watch_ends_when_the_build_leaves_building():
    watch = WatchRecord("irc", "a", "a", None, "build", 7, "build bash-1-1")
    merge(watch, 7, 70, 0)
    assert not is_done(watch)
    merge(watch, 7, 70, 3)
    assert is_done(watch) and not merge(watch, 7, 70, 0)


def test_poll_schedule_is_bounded_per_watch_and_in_total():
    schedule = PollSchedule(interval=300, batch=100)
    for ident in range(250):
        schedule.plan(ident, now=0)
    assert schedule.due(299) == []
    assert len(schedule.due(300)) == 100  # at most a batch per round
    schedule.last_round = 300
    assert schedule.next_round(300) == 30  # rounds a tenth of the interval apart
    schedule.drop(5)
    assert 5 not in schedule.due_at


def test_news_of_an_end_brings_a_short_bounded_series_of_prompt_checks():
    schedule = PollSchedule(interval=300, batch=2)
    for ident in range(3):
        schedule.plan(ident, now=0)
    schedule.last_round = 0
    schedule.prompt(2, now=10)
    schedule.prompt(99, now=10)  # not a watch: nothing to check
    assert schedule.next_round(10) == 0  # no waiting for the gap
    assert schedule.due(10) == [2]
    times = []
    now = 10.0
    while 2 in schedule.prompt_at:
        schedule.checked(2, now)
        if 2 in schedule.prompt_at:
            now = schedule.prompt_at[2][0]
            times.append(now - 10)
    assert times == [0.5, 1.5, 2.5, 4.5, 6.5, 10.5, 18.5]  # then the poll as before
    assert schedule.next_round(now) == 300 - now
    schedule.prompt(1, now=400)
    assert schedule.due(400) == [1, 0]  # prompt checks first, then the overdue
