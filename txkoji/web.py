"""kojiweb URLs ↔ hub calls, without I/O."""

from __future__ import annotations

import posixpath
import re
from typing import NamedTuple
from urllib.parse import parse_qs, urlsplit

from txkoji.rpc import I8_MAX

# kojiweb page → (query parameter holding the id, hub method answering it)
PAGES = {
    "taskinfo": ("taskID", "getTaskInfo"),
    "buildinfo": ("buildID", "getBuild"),
    "userinfo": ("userID", "getUser"),
    "packageinfo": ("packageID", "getPackage"),
    "taginfo": ("tagID", "getTag"),
    "channelinfo": ("channelID", "getChannel"),
    "hostinfo": ("hostID", "getHost"),
    "buildtargetinfo": ("targetID", "getBuildTarget"),
}

URL_PATTERN = re.compile(r"https?://[^\s<>\"']+/(?:" + "|".join(PAGES) + r")\?[^\s<>\"']+")


class WebTarget(NamedTuple):
    page: str
    method: str
    id: int | str


def parse_url(url: str) -> WebTarget | None:
    """The hub call behind a kojiweb URL, or None if it names no page txkoji knows."""
    if not isinstance(url, str) or re.search(r"\s", url.strip()):
        return None
    parts = urlsplit(url.strip())
    page = posixpath.basename(parts.path)
    if page not in PAGES:
        return None
    param, method = PAGES[page]
    values = parse_qs(parts.query).get(param)
    if not values or not values[0]:
        return None
    value = values[0]
    if value.isascii() and value.isdigit():
        number = int(value)
        return WebTarget(page, method, number) if 0 < number <= I8_MAX else None
    return WebTarget(page, method, value)


def find_urls(text: str) -> list[str]:
    """kojiweb page URLs mentioned anywhere in a chat message."""
    return [url.rstrip(".,;:!?)]}'") for url in URL_PATTERN.findall(text or "")]


def page_url(weburl: str, page: str, ident: int | str) -> str:
    """The kojiweb URL of a record: ``page_url(weburl, 'taskinfo', 42)``."""
    param = PAGES[page][0]
    return f"{weburl.rstrip('/')}/{page}?{param}={ident}"
