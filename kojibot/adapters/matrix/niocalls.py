"""The bridge from Twisted to matrix-nio, and the few calls nio does not offer as such.

matrix-nio is asyncio: under Twisted's asyncio reactor a nio coroutine must run as an
asyncio task (aiohttp insists on one), so ``nio_call`` wraps each in
``Deferred.fromFuture(asyncio.ensure_future(...))``. The coroutines here run on the asyncio
side whole and are wrapped the same way.
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from collections.abc import Coroutine
from typing import Any

import nio
from twisted.internet import defer

HISTORY_PAGE = 100
HISTORY_MOST = 500  # events fetched per room to fill a gap after a long absence


class MatrixTrouble(Exception):
    """A failed call worth retrying later (server away, token refused, rate limited)."""


class LoginFailed(MatrixTrouble):
    """The homeserver refused our credentials; says so without repeating them."""


def nio_call(coroutine: Coroutine[Any, Any, Any]) -> defer.Deferred:
    """Run *coroutine* as an asyncio task and wait on it Twisted's way; cancelling the
    Deferred cancels the task."""
    return defer.Deferred.fromFuture(asyncio.ensure_future(coroutine))


def sources(events: list) -> list[dict]:
    """The raw dicts behind nio's parsed events."""
    return [event.source for event in events if isinstance(getattr(event, "source", None), dict)]


def http_status(response: nio.ErrorResponse) -> int | None:
    return getattr(getattr(response, "transport_response", None), "status", None)


def error_text(response: nio.ErrorResponse) -> str:
    return f"{response.status_code or http_status(response)} {response.message}"


async def api(client: nio.AsyncClient, method: str, path: str,
              body: dict | None = None) -> tuple[int, dict]:
    """One client-server API call with the client's token: the HTTP status and the JSON
    answer (``{}`` if it is not a JSON object)."""
    response = await client.send(method, path, None if body is None else json.dumps(body),
                                 headers={"Authorization": f"Bearer {client.access_token}",
                                          "Content-Type": "application/json"})
    try:
        data = await response.json(content_type=None)
    except ValueError:
        data = {}
    finally:
        response.release()
    return response.status, data if isinstance(data, dict) else {}


def _account_data(client: nio.AsyncClient, kind: str) -> str:
    return (f"/_matrix/client/v3/user/{urllib.parse.quote(client.user_id, safe='')}"
            f"/account_data/{urllib.parse.quote(kind, safe='')}")


async def put_account_data(client: nio.AsyncClient, kind: str, content: dict) -> int:
    """PUT global account data (``m.direct``, secret storage); the HTTP status."""
    return (await api(client, "PUT", _account_data(client, kind), content))[0]


async def get_account_data(client: nio.AsyncClient, kind: str) -> tuple[int, dict]:
    return await api(client, "GET", _account_data(client, kind))


async def history(client: nio.AsyncClient, room_id: str, newer: str, older: str,
                  most: int = HISTORY_MOST) -> tuple[list[dict], bool]:
    """The room's events from pagination token *newer* back to sync token *older*, oldest
    first, at most *most* of them; and whether it got all of them."""
    events: list[dict] = []
    while len(events) < most:
        response = await client.room_messages(room_id, start=newer, end=older,
                                              direction=nio.MessageDirection.back,
                                              limit=HISTORY_PAGE)
        if isinstance(response, nio.RoomMessagesError):
            raise MatrixTrouble(f"reading {room_id}'s history: {error_text(response)}")
        events.extend(sources(response.chunk))
        if not response.chunk or not response.end or response.end == newer:
            return events[::-1], True
        newer = response.end
    return events[:most][::-1], False
