"""Routing without I/O: which rooms and people an enriched bus event reaches, and the line
each gets. No reactor, no hub, no database: events and indexes are built here."""

import pytest

from kojibot.chat.message import from_json, link
from kojibot.personal.dmalerts import Alerts
from kojibot.relay.matching import SubscriptionIndex
from kojibot.relay.route import Enriched, Indexes, rooms, route, wants_turn, wants_why
from kojibot.state.records import Alert, Person, Subscription
from kojibot.wording.eventnames import DEFAULT_EVENTS
from txkoji.build import Build
from txkoji.events import BuildStateChange, PackageListChange, TagChange, TaskStateChange
from txkoji.task import Task

WEB = "https://koji.example.test/koji"
STATES = {"started": "BUILDING", "complete": "COMPLETE", "failed": "FAILED",
          "canceled": "CANCELED", "deleted": "DELETED"}
WHY_PARTS = (" — why: %check failed (build.log: ", link("https://top.test/build.log"), ")")


def build(n=7, package="bash", task_id=70):
    return Build(build_id=n, name=package, version="1.0", release=f"{n}.fc41",
                 nvr=f"{package}-1.0-{n}.fc41", task_id=task_id, start_ts=1000.0,
                 completion_ts=2510.0)


def build_event(new="COMPLETE", package="bash", owner="alice", n=7):
    return BuildStateChange(routing_key="buildsys.build.state.change", dedupe_key=f"b{n}{new}",
                            build=build(n, package), old="BUILDING", new=new, owner=owner)


def tag_event(action="tag", tag="f41", package="bash", user="releng"):
    return TagChange(routing_key="buildsys.tag", dedupe_key=f"t{action}", action=action,
                     build=build(package=package), tag=tag, user=user)


def list_event(action="add", package="python-six"):
    return PackageListChange(routing_key="buildsys.package.list.change",
                             dedupe_key=f"p{action}", action=action, package=package,
                             tag="f41", owner="alice", user="releng")


def task_event(new="FAILED", scratch=False):
    task = Task(id=20, method="build", parent=None, state=5, owner=1,
                request=["git+https://src.test/rpms/bash.git#abc", "f41",
                         {"scratch": True} if scratch else {}],
                start_ts=1000.0, completion_ts=1300.0)
    return TaskStateChange(routing_key="buildsys.task.state.change", dedupe_key=f"k{new}",
                           task=task, old="OPEN", new=new, owner="alice", owner_id=None)


def enriched(event, word, owner="alice", **facts):
    return Enriched(event, WEB, word, owner, **facts)


def sub(room, kind, pattern, events=DEFAULT_EVENTS):
    return Subscription("irc", room, kind, pattern, frozenset(events))


def targets(entries):
    return sorted((entry.target, entry.direct) for entry in entries)


def line(entry):
    return from_json(entry.message).plain()


def rooms_of(subs, facts):
    return targets(route(facts, Indexes(SubscriptionIndex(subs))))


def test_package_owner_and_tag_subscriptions_each_bring_the_room_once():
    subs = [sub("#pkg", "package", "bash"), sub("#glob", "package", "ba*"),
            sub("#owner", "owner", "Alice"), sub("#tag", "tag", "f41"),
            sub("#pkg", "owner", "alice"), sub("#other", "package", "gcc")]
    entries = route(enriched(build_event(), "complete"), Indexes(SubscriptionIndex(subs)))
    assert targets(entries) == [("#glob", False), ("#owner", False), ("#pkg", False)]
    assert line(entries[0]) == (f"bash-1.0-7.fc41 COMPLETE (was BUILDING) by alice, took "
                                f"25m 10s — {WEB}/buildinfo?buildID=7")
    assert entries[0].summary == "builds completed\tbash-1.0-7.fc41"
    tagged = route(enriched(tag_event(), "tagged", "releng"),
                   Indexes(SubscriptionIndex([sub("#tag", "tag", "f4?", {"tagged"})])))
    assert targets(tagged) == [("#tag", False)]


@pytest.mark.parametrize("word", list(STATES))
def test_each_build_event_word_reaches_only_rooms_that_chose_it(word):
    subs = [sub(f"#{each}", "package", "bash", {each}) for each in STATES]
    facts = enriched(build_event(STATES[word]), word)
    assert rooms_of(subs, facts) == [(f"#{word}", False)]


@pytest.mark.parametrize(("action", "word"), [("tag", "tagged"), ("untag", "untagged")])
def test_tag_event_words(action, word):
    subs = [sub("#tagged", "tag", "f41", {"tagged"}), sub("#untagged", "tag", "f41",
                                                           {"untagged"}),
            sub("#builds", "package", "bash", {"complete", "failed"})]
    assert rooms_of(subs, enriched(tag_event(action), word, "releng")) == [(f"#{word}", False)]


@pytest.mark.parametrize("action", ["add", "update", "block", "unblock", "remove"])
def test_packages_subscriptions_follow_each_package_list_word(action):
    word = {"add": "added", "update": "updated", "block": "blocked", "unblock": "unblocked",
            "remove": "removed"}[action]
    subs = [sub(f"#{each}", "packages", "python-*", {each})
            for each in ("added", "updated", "blocked", "unblocked", "removed")]
    subs.append(sub("#builds", "package", "python-six", {"complete", "tagged"}))
    entries = route(enriched(list_event(action), word), Indexes(SubscriptionIndex(subs)))
    assert targets(entries) == [(f"#{word}", False)]
    assert line(entries[0]).startswith(f"python-six {word} ")


def test_an_event_nobody_chose_or_with_no_word_goes_nowhere():
    index = Indexes(SubscriptionIndex([sub("#a", "package", "bash")]))
    assert route(enriched(build_event(package="gcc"), "complete"), index) == []
    assert route(Enriched(build_event(new="FREE"), WEB), index) == []


def test_broken_and_fixed_reach_their_rooms_only_on_a_turn():
    subs = [sub("#turns", "package", "bash", {"broken", "fixed"}),
            sub("#fails", "package", "bash", {"failed"})]
    failed = build_event("FAILED")
    assert rooms_of(subs, enriched(failed, "failed")) == [("#fails", False)]
    assert rooms_of(subs, enriched(failed, "failed", turn="broken")) == [("#fails", False),
                                                                       ("#turns", False)]
    fixed = enriched(build_event("COMPLETE"), "complete", turn="fixed")
    assert rooms_of(subs, fixed) == [("#turns", False)]


def test_the_outcome_before_is_wanted_only_where_a_turn_could_match():
    index = SubscriptionIndex([sub("#turns", "owner", "bob", {"broken"})])
    assert wants_turn(build_event("FAILED", owner="bob"), "bob", index)
    assert not wants_turn(build_event("FAILED"), "alice", index)  # not bob's
    assert not wants_turn(build_event("BUILDING", owner="bob"), "bob", index)  # no outcome
    assert not wants_turn(build_event("FAILED"), "alice", SubscriptionIndex(
        [sub("#a", "package", "bash", {"failed"})]))  # nobody wants a turn


def test_why_goes_only_to_rooms_that_asked_for_it():
    subs = [sub("#why", "package", "bash", {"failed", "why"}), sub("#plain", "package", "bash")]
    index = SubscriptionIndex(subs)
    failed = build_event("FAILED")
    assert wants_why(rooms(failed, "failed", "alice", None, index))
    assert not wants_why(rooms(failed, "failed", "alice", None,
                               SubscriptionIndex(subs[1:])))
    entries = {entry.target: line(entry) for entry in
               route(enriched(failed, "failed", why=WHY_PARTS), Indexes(index))}
    assert entries["#why"] == entries["#plain"] + \
        " — why: %check failed (build.log: https://top.test/build.log)"


def alerts(*people):
    """(identity, koji user, alert kind, pattern, events) per person; their DMs go to the
    identity with an underscore."""
    return Alerts([Person("irc", who, f"{who}_", user) for who, user, *_ in people],
                  [Alert("irc", who, kind, pattern, frozenset(events))
                   for who, _, kind, pattern, events in people])


def dms(facts, people):
    return targets(route(facts, Indexes(SubscriptionIndex(), people)))


def test_alerts_by_owner_and_package_reach_each_person_once_by_dm():
    people = alerts(("al", "alice", "owner", "", {"complete", "failed"}),
                    ("bo", "bob", "package", "ba*", {"complete"}),
                    ("cy", "carol", "owner", "", {"complete"}),
                    ("di", None, "owner", "", {"complete"}))  # no link: no owner alert
    assert dms(enriched(build_event(), "complete", alert=("complete", "bash")), people) == [
        ("al_", True), ("bo_", True)]
    assert dms(enriched(build_event("FAILED"), "failed", alert=("failed", "bash")),
               people) == [("al_", True)]
    assert dms(enriched(build_event(), "complete", alert=("complete", "bash")),
               Alerts()) == []


def test_not_mine_leaves_out_the_persons_own_builds():
    people = alerts(("al", "Alice", "package", "bash", {"complete", "not-mine"}))
    assert dms(enriched(build_event(owner="bob"), "complete", owner="bob",
                        alert=("complete", "bash")), people) == [("al_", True)]
    assert dms(enriched(build_event(), "complete", alert=("complete", "bash")), people) == []


def test_a_failed_alert_carries_its_details_and_a_covered_task_none():
    people = alerts(("al", "alice", "owner", "", {"failed"}))
    details = (" — failed: aarch64",)
    (entry,) = route(enriched(task_event(), None, alert=("failed", "bash"), details=details),
                     Indexes(SubscriptionIndex(), people))
    assert line(entry) == (f"Task 20 build bash FAILED (was OPEN) by alice, took 5m 00s — "
                           f"{WEB}/taskinfo?taskID=20 — failed: aarch64")
    assert entry.summary == "builds failed\ttask 20 (bash)"
    assert route(enriched(task_event(), None, alert=("failed", "bash"), covered=True),
                 Indexes(SubscriptionIndex(), people)) == []


def test_rooms_and_dms_of_one_event_come_together_rooms_first():
    people = alerts(("al", "alice", "owner", "", {"complete"}))
    entries = route(enriched(build_event(), "complete", alert=("complete", "bash")),
                    Indexes(SubscriptionIndex([sub("#a", "package", "bash")]), people))
    assert [(entry.target, entry.direct) for entry in entries] == [("#a", False),
                                                                   ("al_", True)]
