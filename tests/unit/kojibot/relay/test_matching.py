"""The subscription index: names and patterns matched without a scan; the words anyone wants."""

from kojibot.relay.matching import SubscriptionIndex
from kojibot.state.store import Subscription
from kojibot.wording.eventnames import DEFAULT_EVENTS


def sub(room, kind, pattern, events=DEFAULT_EVENTS):
    return Subscription("irc", room, kind, pattern, frozenset(events))


def test_index_matching_does_not_scan_all_subscriptions():
    index = SubscriptionIndex([sub(f"#{n}", "package", f"pkg{n}") for n in range(10000)] +
                              [sub(f"#g{n}", "package", f"lib{n}-*") for n in range(1000)])
    assert [s.room for s in index.match("package", "pkg4242", "complete")] == ["#4242"]
    assert [s.room for s in index.match("package", "lib7-devel", "failed")] == ["#g7"]
    assert index.match("package", "other", "complete") == []


def test_the_index_knows_which_event_words_anyone_wants():
    index = SubscriptionIndex([sub("#a", "package", "bash", {"broken", "failed"}),
                               sub("#b", "package", "py-*", {"broken"})])
    assert index.wants("broken") and index.wants("failed") and not index.wants("fixed")
    index.add(sub("#a", "package", "bash", {"complete"}))  # replaces #a's events
    assert index.wants("broken") and not index.wants("failed")
    index.remove(sub("#b", "package", "py-*"))
    assert not index.wants("broken") and index.wants("complete")
