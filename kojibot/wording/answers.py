"""One-line answers about hub records, fetched and worded: shared by the commands, pasted
kojiweb links and watch reports."""

from __future__ import annotations

from kojibot.chat.message import Message, text
from kojibot.wording.describe import build_line, task_line, user_line
from txkoji import estimates, web
from txkoji.states import BuildState
from txkoji.times import utcnow


async def task_answer(koji, task_id: int) -> Message:
    """The task's line; shared with pasted kojiweb links and watches."""
    multicall = koji.MultiCall()
    multicall.getTaskInfo(task_id)
    multicall.getTaskChildren(task_id)
    task, children = await multicall()
    if task is None:
        return text(f"No such task: {task_id}")
    owner = await koji.cache.user_name(task["owner"]) if task.get("owner") else None
    eta = await estimates.estimate_completion(koji, task) if task.is_open else None
    return task_line(task, owner, children, eta, utcnow())


async def build_answer(koji, ref: int | str) -> Message:
    """The build's line; shared with pasted kojiweb links and watches."""
    multicall = koji.MultiCall()
    multicall.getBuild(ref)
    multicall.listTags(build=ref)
    results = await multicall()
    build = results[0]
    if build is None:
        return text(f"No such build: {ref}")
    tags = results[1]
    eta = None
    if build.get("state") == BuildState.BUILDING:
        eta = await estimates.estimate_completion(koji, build)
    return build_line(build, sorted(tag["name"] for tag in tags), eta, utcnow())


async def user_answer(koji, ref: int | str) -> Message:
    user = await koji.getUser(ref)
    if not user:
        return text(f"No such user: {ref}")
    url = web.page_url(koji.weburl, "userinfo", user["id"]) if koji.weburl else None
    return user_line(user, url)
