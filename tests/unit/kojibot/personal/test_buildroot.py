"""The buildroot rule against a hub double: the repo's creation event decides, each repo is
checked once, and the answer line says the repo and the time since the tagging."""

import pytest_twisted

from kojibot.chat.render import plain
from kojibot.personal import buildroot
from txkoji.testing import HubDouble

BUILD = {"id": 42, "nvr": "bash-5.2-1.fc41", "task_id": 700}
TAGGED_AT_EVENT = 100


def hub_with_tagging():
    """bash-5.2-1.fc41 tagged at event 100 (into a parent of f41-build) at t=1000."""
    hub = HubDouble()
    hub.methods["listTagged"] = lambda tag, event=None, inherit=False, package=None: (
        [{"id": 42, "nvr": BUILD["nvr"], "create_event": TAGGED_AT_EVENT,
          "tag_name": "f41-updates"}] if event >= TAGGED_AT_EVENT and inherit else [])
    hub.methods["getEvent"] = lambda event: {"id": event, "ts": 1000.0}
    return hub


@pytest_twisted.ensureDeferred
async def test_a_repo_made_before_the_tagging_does_not_hold_the_build():
    hub = hub_with_tagging()
    watch = buildroot.buildroot_watch(BUILD, "f41-build")
    assert await buildroot.holding_repo(hub.connection(), watch,
                                        {"id": 5, "create_event": 99}) is None
    assert ("listTagged", ("f41-build",), {"event": 99, "inherit": True,
                                            "package": "bash"}) in hub.calls


@pytest_twisted.ensureDeferred
async def test_a_repo_made_after_the_tagging_holds_it_with_the_tagging_time():
    watch = buildroot.buildroot_watch(BUILD, "f41-build")
    repo, tagged = await buildroot.holding_repo(hub_with_tagging().connection(), watch,
                                                {"id": 6, "create_event": 101})
    assert (repo["id"], tagged) == (6, 1000.0)


@pytest_twisted.ensureDeferred
async def test_a_repo_checked_before_is_not_asked_about_again():
    hub = hub_with_tagging()
    watch = buildroot.buildroot_watch(BUILD, "f41-build")
    buildroot.note_checked(watch, 6)
    assert await buildroot.holding_repo(hub.connection(), watch,
                                        {"id": 6, "create_event": 101}) is None
    assert await buildroot.holding_repo(hub.connection(), watch, None) is None
    assert hub.calls == []


@pytest_twisted.ensureDeferred
async def test_without_a_tag_the_build_waits_for_its_targets_build_tag():
    hub = HubDouble()
    hub.methods["getTaskInfo"] = lambda task_id, request=False: {
        "id": task_id, "method": "build", "request": ["git+https://src/bash", "f41", {}]}
    hub.methods["getBuildTarget"] = lambda name: {"name": name, "build_tag_name": "f41-build"}
    assert await buildroot.target_build_tag(hub.connection(), BUILD) == "f41-build"
    assert await buildroot.target_build_tag(hub.connection(), {**BUILD, "task_id": None}) \
        is None


def test_the_line_says_the_repo_and_the_time_since_the_tagging():
    watch = buildroot.buildroot_watch(BUILD, "f41-build")
    line = buildroot.in_buildroot_line(watch, {"id": 1234}, 1000.0, 1190.0,
                                       "https://koji.example.test/koji")
    assert plain(line) == (
        "bash-5.2-1.fc41 is in the f41-build buildroot: repo 1234 (done 3m 10s after "
        "tagging) — https://koji.example.test/koji/buildinfo?buildID=42")
    assert buildroot.waiting_text(watch) == "not in the f41-build buildroot yet"
