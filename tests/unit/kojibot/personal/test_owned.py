"""!alerts mine and !alerts koji against a hub double: the packages the hub names for a
person become their package alerts, in memory, and follow package list changes."""

import pytest_twisted

from kojibot.personal.dmalerts import Alerts
from kojibot.personal.owned import OwnedPackages
from kojibot.relay.route import Enriched
from kojibot.state.records import Alert, Person
from txkoji.events import PackageListChange
from txkoji.testing import HubDouble

ALICE = Person("irc", "alice", "Alice", "kalice")


def owned_rows(lists):
    """listPackages rows from {tag: [(package, owner, blocked)]}."""
    return [{"package_name": package, "tag_name": tag, "owner_name": owner, "blocked": blocked}
            for tag, rows in lists.items() for package, owner, blocked in rows]


def hub_with(lists, notifications=(), opt_outs=()):
    hub = HubDouble()
    hub.methods["getBuildNotificationBlocks"] = lambda user: [
        {"id": n, "user_id": 1, "package_id": package_id, "tag_id": tag_id}
        for n, (package_id, tag_id) in enumerate(opt_outs)]
    hub.methods["listPackages"] = lambda **query: [
        row for row in owned_rows(lists) if row["owner_name"] == query["userID"]]
    hub.methods["getBuildNotifications"] = lambda user: [
        {"id": n, "user_id": 1, "package_id": package_id, "tag_id": tag_id,
         "success_only": success_only, "email": "a@x"}
        for n, (package_id, success_only, *tag_id) in enumerate(notifications)
        for tag_id in [tag_id[0] if tag_id else None]]
    hub.methods["getPackage"] = lambda info: {"id": info, "name": {7: "zsh", 8: "vim"}[info]}
    hub.methods["getTag"] = lambda info, **_: {"id": info, "name": {41: "f41-candidate"}[info]}
    return hub


def person_with(*kinds, events=frozenset({"complete", "failed"})):
    return Alerts([ALICE], [Alert("irc", "alice", kind, "", events) for kind in kinds])


def alerted(alerts, package, event="complete", tag=None):
    return alerts.recipients("someone", package, event, tag) == [("irc", "Alice")]


LISTS = {"f41": [("bash", "kalice", False), ("gcc", "kbob", False),
                 ("ed", "kalice", True)],
         "epel9": [("tmux", "kalice", False)]}


@pytest_twisted.ensureDeferred
async def test_mine_alerts_for_packages_owned_in_any_unblocked_list_not_for_others():
    alerts = person_with("mine")
    await OwnedPackages(hub_with(LISTS).connection(), alerts).refresh_all()
    assert alerted(alerts, "bash") and alerted(alerts, "tmux")
    assert not alerted(alerts, "gcc") and not alerted(alerts, "ed")
    assert not alerted(alerts, "bash", "started")


@pytest_twisted.ensureDeferred
async def test_owner_tags_narrow_the_lists_read():
    alerts = person_with("mine")
    await OwnedPackages(hub_with(LISTS).connection(), alerts, tags=["f41"]).refresh_all()
    assert alerted(alerts, "bash") and not alerted(alerts, "tmux")


@pytest_twisted.ensureDeferred
async def test_koji_notifications_become_alerts_success_only_means_complete_only():
    alerts = person_with("koji")
    hub = hub_with(LISTS, notifications=[(7, True), (8, False)])
    await OwnedPackages(hub.connection(), alerts).refresh_all()
    assert alerted(alerts, "zsh") and not alerted(alerts, "zsh", "failed")
    assert alerted(alerts, "vim", "failed") and not alerted(alerts, "bash")


@pytest_twisted.ensureDeferred
async def test_a_notification_for_a_tag_alerts_only_for_builds_whose_destination_it_is():
    alerts = person_with("koji")
    hub = hub_with(LISTS, notifications=[(7, False, 41)])
    await OwnedPackages(hub.connection(), alerts).refresh_all()
    assert alerted(alerts, "zsh", "failed", tag="f41-candidate")
    assert not alerted(alerts, "zsh", tag="f41-updates") and not alerted(alerts, "zsh")
    assert alerts.wants_tag("zsh", "complete") and not alerts.wants_tag("vim", "complete")


@pytest_twisted.ensureDeferred
async def test_koji_opt_outs_mute_what_the_hub_gave_not_the_persons_own_alerts():
    """As Koji mutes its mails: an opt-out for vim, and one for any package headed to
    f41-candidate, against a notification for every package and the packages owned."""
    alerts = Alerts([ALICE], [Alert("irc", "alice", kind, "", frozenset({"complete"}))
                              for kind in ("koji", "mine")]
                    + [Alert("irc", "alice", "package", "tmux", frozenset({"complete"}))])
    hub = hub_with(LISTS, notifications=[(None, True)], opt_outs=[(8, None), (None, 41)])
    await OwnedPackages(hub.connection(), alerts).refresh_all()
    assert alerted(alerts, "zsh") and alerted(alerts, "zsh", tag="epel9")
    assert not alerted(alerts, "vim") and not alerted(alerts, "vim", tag="epel9")
    assert not alerted(alerts, "zsh", tag="f41-candidate")
    assert not alerted(alerts, "bash", tag="f41-candidate")  # owned, and muted there too
    assert alerted(alerts, "tmux", tag="f41-candidate")  # the person's own alert
    assert alerts.wants_tag("zsh", "complete")


@pytest_twisted.ensureDeferred
async def test_a_notification_without_a_package_covers_every_package():
    alerts = person_with("koji")
    await OwnedPackages(hub_with({}, [(None, False)]).connection(), alerts).refresh_all()
    assert alerted(alerts, "anything", "canceled")


@pytest_twisted.ensureDeferred
async def test_a_package_list_change_reads_the_new_owner_again():
    lists = {"f41": [("bash", "kbob", False)]}
    hub = hub_with(lists)
    alerts = person_with("mine")
    owned = OwnedPackages(hub.connection(), alerts)
    await owned.refresh_all()
    assert not alerted(alerts, "bash")
    lists["f41"] = [("bash", "kalice", False)]
    await owned.on_event(Enriched(PackageListChange(
        routing_key="buildsys.package.list.change", dedupe_key="p1", action="update",
        package="bash", tag="f41", owner="kalice", user="releng")))
    assert alerted(alerts, "bash")
    lists["f41"] = [("bash", "kbob", False)]
    await owned.on_event(Enriched(PackageListChange(
        routing_key="buildsys.package.list.change", dedupe_key="p2", action="update",
        package="bash", tag="f41", owner="kbob", user="releng")))
    assert not alerted(alerts, "bash")


@pytest_twisted.ensureDeferred
async def test_a_hub_error_keeps_the_last_reading_and_dropping_the_alert_drops_them():
    hub = hub_with(LISTS)
    alerts = person_with("mine")
    owned = OwnedPackages(hub.connection(), alerts)
    await owned.refresh_all()
    hub.down = True
    await owned.refresh_all()
    assert alerted(alerts, "bash")
    alerts.removed("irc", "alice", "mine", "")
    await owned.refresh_person("irc", "alice")
    assert not alerted(alerts, "bash")


@pytest_twisted.ensureDeferred
async def test_a_persons_own_package_alert_keeps_its_events():
    alerts = person_with("mine")
    alerts.set(Alert("irc", "alice", "package", "bash", frozenset({"started"})))
    await OwnedPackages(hub_with(LISTS).connection(), alerts).refresh_all()
    assert alerted(alerts, "bash", "started") and not alerted(alerts, "bash")


@pytest_twisted.ensureDeferred
async def test_a_change_naming_only_the_owners_id_reads_everyone_with_mine_again():
    lists = {"f41": []}
    alerts = person_with("mine")
    owned = OwnedPackages(hub_with(lists).connection(), alerts)
    await owned.refresh_all()
    lists["f41"] = [("bash", "kalice", False)]
    await owned.on_event(Enriched(PackageListChange(
        routing_key="koji.package.add", dedupe_key="p3", action="add", package="bash",
        tag="f41", owner=None, owner_id=5, user="releng")))
    assert alerted(alerts, "bash")


@pytest_twisted.ensureDeferred
async def test_a_new_link_reads_the_new_users_packages():
    alerts = Alerts([Person("irc", "alice", "Alice", "kbob")],
                    [Alert("irc", "alice", "mine", "", frozenset({"complete"}))])
    owned = OwnedPackages(hub_with(LISTS).connection(), alerts)
    await owned.refresh_all()
    assert alerted(alerts, "gcc") and not alerted(alerts, "bash")
    alerts.remember(ALICE)
    owned.soon("irc", "alice")
    assert alerted(alerts, "bash") and not alerted(alerts, "gcc")
