"""Pasted kojiweb links are answered like the matching command."""

from __future__ import annotations

from kojibot.api import bold, build_answer, link, listener, task_answer, text, user_answer
from txkoji import web

MAX_LINKS = 3


@listener(web.URL_PATTERN)
async def kojiweb_links(ctx):
    """Answer up to three links to this hub's kojiweb in a line."""
    weburl = (ctx.koji.weburl or "").rstrip("/")
    if not weburl:
        return None
    answers = []
    for url in web.find_urls(ctx.incoming.text):
        target = web.parse_url(url) if url.startswith(weburl + "/") else None
        if target is not None:
            answers.append(await _answer(ctx.koji, target))
        if len(answers) == MAX_LINKS:
            break
    return answers


async def _answer(koji, target: web.WebTarget):
    if target.page == "taskinfo" and isinstance(target.id, int):
        return await task_answer(koji, target.id)
    if target.page == "buildinfo":
        return await build_answer(koji, target.id)
    if target.page == "userinfo":
        return await user_answer(koji, target.id)
    record = await koji.call(target.method, target.id)
    kind = target.page.removesuffix("info")
    if not record:
        return text(f"No such {kind}: {target.id}")
    name = record.get("name") or record.get("id")
    return text(bold(f"{kind.capitalize()} {name}"), f" (id {record.get('id')})", " — ",
                link(web.page_url(koji.weburl, target.page, record.get("id"))))
