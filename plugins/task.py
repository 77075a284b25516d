"""!task ID — one line about a Koji task."""

from __future__ import annotations

from typing import Annotated

from kojibot.commands import command
from kojibot.describe import task_line
from kojibot.message import Message, text
from txkoji import estimates
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


@command("task")
async def task(ctx, task_id: Annotated[int, "ID"]):
    """Show a task: method, package, arch, state, owner, times or ETA, and its kojiweb link."""
    return await task_answer(ctx.koji, task_id)
