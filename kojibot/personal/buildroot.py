"""In the buildroot: when a repo of a tag holds a build, by ``koji wait-repo --build``'s rule.

A repo holds the build when, at the repo's creation event, the build is tagged into the tag
or into a tag it inherits from: ``listTagged(tag, event=repo's create_event, inherit=True)``
lists it. Only hub event ids decide, never clocks, so a repo made before the tagging never
counts, and an inheritance link added after the repo was made does not either. A repo watch
(kind ``repo``) keeps ``{build id: [newest repo id checked, None]}`` as its states, so each
repo of the tag is checked against the build once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kojibot.chat.message import Message, link, text
from kojibot.state.records import WatchRecord
from kojibot.wording.timefmt import duration
from txkoji import web

KIND = "repo"


def buildroot_watch(build: dict, tag: str) -> WatchRecord:
    """An unsaved watch for *build* (a hub build record) to be in *tag*'s buildroot."""
    return WatchRecord("", "", "", None, KIND, build["id"], f"build {build['nvr']}",
                       {build["id"]: [None, None]}, tag=tag)


def last_checked(watch: WatchRecord) -> int | None:
    return (watch.states.get(watch.ref) or [None])[0]


def note_checked(watch: WatchRecord, repo_id: int) -> None:
    watch.states[watch.ref] = [repo_id, None]


async def target_build_tag(koji: Any, build: dict) -> str | None:
    """The build tag of the target *build* was built for (its build task's request), if
    the hub knows it."""
    task_id = build.get("task_id")
    if not task_id:
        return None
    task = await koji.getTaskInfo(task_id, True)
    request = (task or {}).get("request") or []
    if len(request) < 2 or not isinstance(request[1], str):
        return None
    target = await koji.getBuildTarget(request[1])
    return target.get("build_tag_name") if target else None


async def holding_repo(koji: Any, watch: WatchRecord,
                       repo: dict | None) -> tuple[dict, float | None] | None:
    """(repo, when the build was tagged as a Unix time) if *repo*, the tag's newest ready
    repo, holds the watched build; None if not (or it was checked before)."""
    if not repo or (last_checked(watch) or 0) >= repo["id"]:
        return None
    package = watch.label.removeprefix("build ").rsplit("-", 2)[0]
    tagged = await koji.listTagged(watch.tag, event=repo["create_event"], inherit=True,
                                   package=package)
    listing = next((entry for entry in tagged or () if entry.get("id") == watch.ref), None)
    if listing is None:
        return None
    event = await koji.getEvent(listing["create_event"])
    return repo, (event or {}).get("ts")


def in_buildroot_line(watch: WatchRecord, repo: dict, tagged_at: float | None,
                      done_at: float, weburl: str | None) -> Message:
    """``bash-5.2-1.fc41 is in the f41-build buildroot: repo 1234 (done 3m 10s after
    tagging) — link``."""
    nvr = watch.label.removeprefix("build ")
    after = ""
    if tagged_at is not None:
        after = f" (done {duration(timedelta(seconds=max(0.0, done_at - tagged_at)))} " \
                "after tagging)"
    message = text(f"{nvr} is in the {watch.tag} buildroot: repo {repo['id']}{after}")
    if weburl:
        message.add(" — ", link(web.page_url(weburl, "buildinfo", watch.ref)))
    return message


def waiting_text(watch: WatchRecord) -> str:
    return f"not in the {watch.tag} buildroot yet"
