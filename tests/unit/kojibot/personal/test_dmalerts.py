"""Whom a build's news alerts: links, package patterns, event words and not-mine, pure."""

from kojibot.personal.dmalerts import AlertIndex
from kojibot.state.store import Alert


def test_alert_index_follows_links_packages_and_events():
    index = AlertIndex()
    index.set_person("irc", "al", "alice", [Alert("irc", "al", "owner", "", frozenset({"failed"})),
                                            Alert("irc", "al", "package", "python-*",
                                                  frozenset({"complete"}))])
    index.set_person("irc", "bo", "bob", [Alert("irc", "bo", "owner", "",
                                                frozenset({"failed", "complete"}))])
    assert index.match("alice", "bash", "failed") == [("irc", "al")]
    assert index.match("alice", "bash", "complete") == []
    assert index.match("bob", "python-six", "complete") == [("irc", "bo"), ("irc", "al")]
    index.set_person("irc", "al", "carol", [Alert("irc", "al", "owner", "", frozenset({"failed"}))])
    assert index.match("alice", "bash", "failed") == []
    assert index.match("carol", "bash", "failed") == [("irc", "al")]


def test_not_mine_leaves_out_the_persons_own_builds():
    index = AlertIndex()
    index.set_person("irc", "al", "Alice", [Alert("irc", "al", "package", "bash",
                                                  frozenset({"complete", "not-mine"}))])
    assert index.match("bob", "bash", "complete") == [("irc", "al")]
    assert index.match("alice", "bash", "complete") == []
    index.set_person("irc", "al", None, [Alert("irc", "al", "package", "bash",
                                               frozenset({"complete", "not-mine"}))])
    assert index.match("alice", "bash", "complete") == [("irc", "al")]  # no link: not known


def test_an_alert_bound_to_a_tag_matches_only_builds_headed_there():
    index = AlertIndex()
    done = frozenset({"complete"})
    index.set_person("irc", "al", "alice", [
        Alert("irc", "al", "package", "bash", done, tag="f41-candidate"),
        Alert("irc", "al", "package", "*", done, tag="epel9")])
    assert index.wants_tag("bash", "complete") and index.wants_tag("zsh", "complete")
    assert not index.wants_tag("bash", "failed")
    assert index.match("bob", "bash", "complete", "F41-Candidate") == [("irc", "al")]
    assert index.match("bob", "bash", "complete", "f41-updates") == []
    assert index.match("bob", "bash", "complete") == []  # no target: only untagged ones
    assert index.match("bob", "zsh", "complete", "epel9") == [("irc", "al")]
    index.set_person("irc", "al", "alice", [])
    assert not index.wants_tag("bash", "complete")
    assert index.match("bob", "bash", "complete", "f41-candidate") == []
