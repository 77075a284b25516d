"""Pasted kojiweb links are answered like the matching command."""

from __future__ import annotations

from kojibot.api import Context, bold, link, listener, text
from txkoji import web

MAX_LINKS = 3


@listener(web.URL_PATTERN)
async def kojiweb_links(ctx: Context):
    """Answer up to three links to this hub's kojiweb in a line."""
    weburl = (ctx.hub.koji.weburl or "").rstrip("/")
    if not weburl:
        return None
    answers = []
    for url in web.find_urls(ctx.incoming.text):
        target = web.parse_url(url) if url.startswith(weburl + "/") else None
        if target is not None:
            answers.append(await _answer(ctx, target))
        if len(answers) == MAX_LINKS:
            break
    return answers


async def _answer(ctx: Context, target: web.WebTarget):
    hub, koji = ctx.hub, ctx.hub.koji
    if target.page == "taskinfo" and isinstance(target.id, int):
        return await hub.task(target.id)
    if target.page == "buildinfo":
        return await hub.build(target.id)
    if target.page == "userinfo":
        return await hub.user(target.id)
    record = await koji.call(target.method, target.id)
    kind = target.page.removesuffix("info")
    if not record:
        return text(f"No such {kind}: {target.id}")
    name = record.get("name") or record.get("id")
    return text(bold(f"{kind.capitalize()} {name}"), f" (id {record.get('id')})", " — ",
                link(web.page_url(koji.weburl, target.page, record.get("id"))))
