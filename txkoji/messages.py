"""Koji message-bus deliveries as typed events, without I/O.

``parse(routing_key, headers, body)`` reads what a Koji hub publishes through

- koji's ``protonmsg`` plugin (AMQP 1.0) as an AMQP 0-9-1 consumer gets it from RabbitMQ:
  routing key ``<prefix>.<address>`` (``koji.build.complete``), the body an amqp-value section
  holding the JSON of the hub callback's arguments (see txkoji.amqp10), or plain JSON;
- Fedora's ``koji-fedoramessaging`` plugin: routing key ``<...>.buildsys.<topic>``
  (``org.fedoraproject.prod.buildsys.tag``), a JSON body.

Uninteresting messages (imports, RPM signatures, unknown topics) give None unread; anything
unreadable raises :class:`MalformedMessage`. What a message names only by id (a task's owner)
stays an id: resolving it is the caller's I/O. Every text of an event is capped (txkoji.limits):
a 10 MB owner name arrives as 255 characters ending in an ellipsis.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from enum import IntEnum
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from txkoji import amqp10, limits, times
from txkoji.build import Build
from txkoji.events import (
    BuildStateChange,
    Event,
    PackageListChange,
    RepoChange,
    TagChange,
    TaskStateChange,
)
from txkoji.exceptions import KojiException
from txkoji.rpc import decode_request
from txkoji.states import BuildState, TaskState, state_name
from txkoji.task import Task

__all__ = ["BuildStateChange", "Event", "MalformedMessage", "PackageListChange", "RepoChange",
           "TagChange", "TaskStateChange", "parse"]

PROPERTIES_HEADER = "x-amqp-1.0-properties"
APP_PROPERTIES_HEADER = "x-amqp-1.0-app-properties"


class MalformedMessage(KojiException):
    """A bus message that cannot be read. ``reason`` is one line, safe to log."""

    def __init__(self, reason: str):
        self.reason = " ".join(str(reason).split())[:300]
        super().__init__(self.reason)


def parse(routing_key: str, headers: Mapping | None, body: bytes | str, *,
          message_id: str | None = None) -> Event | None:
    """The event one delivery carries, None if it is not one of interest.

    ``message_id`` is the AMQP 0-9-1 property (fedora-messaging sets it there); without it,
    the AMQP 1.0 properties header's message-id is used.
    """
    if not isinstance(routing_key, str):
        raise MalformedMessage(f"routing key is not text: {routing_key!r:.60}")
    if headers is None:
        headers = {}
    elif not isinstance(headers, Mapping):
        raise MalformedMessage(f"headers are not a table: {type(headers).__name__}")
    route = _route(routing_key[-limits.ROUTING_KEY:]) or _route_from_headers(headers)
    routing_key = limits.cap(routing_key, limits.ROUTING_KEY)
    if route is None:
        return None
    props = _amqp_header(headers, PROPERTIES_HEADER, "properties") or {}
    if not isinstance(message_id, str):
        message_id = amqp10.id_text(props.get("message-id"))
    if message_id is not None:
        message_id = limits.cap(message_id, limits.MESSAGE_ID)
    # Something that tells two messages about the same change apart (tag, untag, tag again).
    stamp = message_id or amqp10.id_text(props.get("creation-time"))
    if stamp is None and isinstance(headers.get("sent-at"), str):
        stamp = headers["sent-at"][:64]
    try:
        text = amqp10.delivery_text(body)
    except amqp10.AMQPDecodeError as exc:
        raise MalformedMessage(f"body: {exc}") from None
    topic, action = route
    body = _json(text)
    made = _HANDLERS[topic](body, action, stamp)
    if made is None:
        return None
    cls, args, key = made
    instance = body.get("instance")
    return cls(*args, routing_key=routing_key, dedupe_key=key, message_id=message_id,
               instance=instance if type(instance) is str else None,
               hub_host=_hub_host(body))


def _hub_host(body: dict) -> str | None:
    """The host of the hub's web address in the message, if it has one (Fedora's do)."""
    for key in ("base_url", "url"):
        url = body.get(key)
        if type(url) is str:
            try:
                host = urlsplit(url).hostname
            except ValueError:
                return None
            return limits.cap(host, limits.DNS_NAME) if host else None
    return None


# Routing ------------------------------------------------------------------------------------

# The last two or three words of a routing key, whatever its prefix: (topic, action).
_ROUTES: dict[str, tuple[str, str | None]] = {
    **{f"build.{s.name.lower()}": ("build", s.name.lower()) for s in BuildState},
    **{f"task.{s.name.lower()}": ("task", s.name.lower()) for s in TaskState},
    **{f"package.{a}": ("package", a) for a in ("add", "update", "block", "unblock", "remove")},
    **{f"{group}.{a}": ("tag", a) for group in ("build", "buildsys") for a in ("tag", "untag")},
    "repo.init": ("repo", "init"), "repo.done": ("repo", "done"),
    "build.state.change": ("build", None), "task.state.change": ("task", None),
    "package.list.change": ("package", None),
}
# protonmsg's ``type`` application property (its callback's name), for a delivery whose routing
# key does not say what it is (RabbitMQ's ``/exchange/NAME`` addresses route by subject).
_CALLBACKS = {"BuildStateChange": "build.state.change", "TaskStateChange": "task.state.change",
              "Tag": "build.tag", "Untag": "build.untag", "RepoInit": "repo.init",
              "RepoDone": "repo.done", "PackageListChange": "package.list.change"}


@lru_cache(maxsize=1024)
def _route(routing_key: str) -> tuple[str, str | None] | None:
    words = routing_key.rsplit(".", 3)
    return _ROUTES.get(".".join(words[-3:])) or _ROUTES.get(".".join(words[-2:]))


def _route_from_headers(headers: Mapping) -> tuple[str, str | None] | None:
    app = _amqp_header(headers, APP_PROPERTIES_HEADER, "application-properties")
    kind = app.get("type") if isinstance(app, dict) else None
    return _ROUTES.get(_CALLBACKS.get(kind, "")) if isinstance(kind, str) else None


# Decoding -----------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _section(value: Any, section: str) -> Any:
    """Cached: protonmsg's properties header is the same few bytes on every message."""
    value = amqp10.from_header(value, section)
    return amqp10.properties(value) if section == "properties" else value


def _amqp_header(headers: Mapping, name: str, section: str) -> Any:
    """The value (not to be modified) of the AMQP 1.0 section a header holds, or None."""
    value = headers.get(name)
    if value is None:
        return None
    try:
        return _section(amqp10.to_bytes(value), section)
    except amqp10.AMQPDecodeError as exc:
        raise MalformedMessage(f"header {name}: {exc}") from None


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


_JSON = json.JSONDecoder(parse_constant=_no_constant)
# A \uD800-\uDFFF escape that is not half of a pair: JSON allows it, UTF-8 cannot carry it.
_SURROGATE_PAIR = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


def _json(text: str) -> dict:
    try:
        data = _JSON.decode(text)
    except (ValueError, RecursionError) as exc:
        raise MalformedMessage(f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MalformedMessage(f"body is a JSON {type(data).__name__}, not an object")
    if ("\\ud" in text or "\\uD" in text) and _SURROGATE.search(_SURROGATE_PAIR.sub("", text)):
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except (UnicodeEncodeError, RecursionError):
            raise MalformedMessage("body holds a lone UTF-16 surrogate") from None
    return limits.capped(data)


# Fields: JSON gives exact types, so ``type(value) in kinds`` also keeps bools out of ints ---------

_TEXT, _INT, _ID_OR_NAME, _OBJECT = (str,), (int,), (int, str), (dict,)
_KIND_NAMES = {_TEXT: "text", _INT: "an integer", _ID_OR_NAME: "an id or name",
               _OBJECT: "an object"}
_BUILD_FIELDS = (("name", _TEXT, True), ("version", _TEXT, True), ("release", _TEXT, True),
                 ("nvr", _TEXT, False), ("owner_name", _TEXT, False), ("id", _INT, False),
                 ("build_id", _INT, False), ("task_id", _INT, False), ("owner_id", _INT, False),
                 ("state", _INT, False))
_TASK_FIELDS = (("id", _INT, True), ("method", _TEXT, True), ("arch", _TEXT, False),
                ("parent", _INT, False), ("state", _INT, False), ("owner", _ID_OR_NAME, False),
                ("host_id", _INT, False), ("channel_id", _INT, False))
_BUILD_TIMES = tuple((f"{n}_ts", f"{n}_time") for n in ("creation", "start", "completion"))
_TASK_TIMES = tuple((f"{n}_ts", f"{n}_time") for n in ("create", "start", "completion"))
_MAX_TS = 253402300799  # 9999-12-31: what datetime can hold


def _check(info: Mapping, fields: tuple, where: str) -> None:
    """Each ``(key, kinds, required)``: a value, if any, of one of ``kinds``, non-empty."""
    for key, kinds, required in fields:
        value = info.get(key)
        if value is None:
            if required:
                raise MalformedMessage(f"{where} has no {key}")
        elif type(value) not in kinds:
            raise MalformedMessage(f"{where}.{key} is not {_KIND_NAMES[kinds]}: {value!r:.60}")
        elif required and value == "":
            raise MalformedMessage(f"{where}.{key} is empty")


def _field(info: Mapping, key: str, kinds: tuple, where: str, required: bool = True) -> Any:
    _check(info, ((key, kinds, required),), where)
    return info.get(key)


def _name(info: Mapping, key: str, where: str, required: bool = True,
          limit: int = limits.NAME) -> str | None:
    """A name that protonmsg sends as the hub's record (``{"name": ...}``), Fedora as text."""
    value = info.get(key)
    if type(value) is dict:
        name = _field(value, "name", _TEXT, f"{where}.{key}", required)
    else:
        name = _field(info, key, _TEXT, where, required)
    return limits.cap(name, limit) if name else name


_state_name = lru_cache(maxsize=64)(state_name)


def _state(enum: type[IntEnum], info: Mapping, key: str, required: bool) -> str | None:
    value = _field(info, key, _ID_OR_NAME, "body", required)
    name = _state_name(enum, value)
    if value is not None and name is None:
        raise MalformedMessage(f"body.{key} is not a {enum.__name__}: {value!r:.60}")
    return name


def _check_times(info: dict, keys: tuple, where: str) -> None:
    """Make ``times.field`` safe on the record; Fedora sends ``*_time`` as epoch numbers."""
    for ts_key, time_key in keys:
        stamp = info.get(ts_key)
        if stamp is None:
            stamp = info.get(time_key)
            if type(stamp) is str:
                try:
                    times.from_text(stamp)
                except (ValueError, OverflowError):
                    raise MalformedMessage(f"{where}.{time_key} is not a time") from None
                continue
            if stamp is None:
                continue
            info[ts_key] = stamp
        if type(stamp) not in (int, float) or not 0 <= stamp <= _MAX_TS:
            raise MalformedMessage(f"{where}.{ts_key} is not a time: {stamp!r:.60}")


def _build(info: dict, where: str) -> Build:
    """A Build from the hub's build record (protonmsg) or the fields Fedora flattens."""
    _check(info, _BUILD_FIELDS, where)
    _check_times(info, _BUILD_TIMES, where)
    build = Build()
    dict.update(build, info)  # Munch's own update copies key by key, in Python
    if build.get("nvr") is None:
        build["nvr"] = f"{info['name']}-{info['version']}-{info['release']}"
    if build.get("id") is None:
        build["id"] = build.get("build_id")
    return build


def _flat_build(body: dict) -> Build:
    """Fedora's build fields, named as the hub names them in a build record."""
    info = {key: body.get(key) for key in ("name", "version", "release", "epoch", "task_id",
                                           "creation_time", "completion_time")}
    info.update(id=body.get("build_id"), owner_name=body.get("owner"))
    return _build(info, "body")


def _task(body: dict) -> tuple[Task, str | None, int | None]:
    info = _field(body, "info", _OBJECT, "body")
    _check(info, _TASK_FIELDS, "body.info")
    _check_times(info, _TASK_TIMES, "body.info")
    request = info.get("request")
    if type(request) is str:
        try:
            request = limits.capped(list(decode_request(request)[0]))
        except (KojiException, IndexError, KeyError, AttributeError):
            raise MalformedMessage("body.info.request is unreadable XML-RPC") from None
    elif request is not None and type(request) is not list:
        raise MalformedMessage(f"body.info.request is not a list: {request!r:.60}")
    task = Task()
    dict.update(task, info)
    task["request"] = request or []
    raw_owner = info.get("owner")
    owner = _field(body, "owner", _TEXT, "body", required=False)
    if type(raw_owner) is str:
        owner = owner or raw_owner
    task["owner"] = owner_id = raw_owner if type(raw_owner) is int else None
    if owner:
        task["owner_name"] = owner
    return task, owner, owner_id


# Handlers: (body, action from the routing key, stamp) -> (event class, arguments, dedupe key)


def _on_build(body: dict, action: str | None, stamp: str | None) -> tuple | None:
    if body.get("attribute", "state") != "state":
        return None
    new = _state(BuildState, body, "new", True)
    old = _state(BuildState, body, "old", False)
    info = body.get("info")
    build = _build(info, "body.info") if type(info) is dict else _flat_build(body)
    build.setdefault("state", BuildState[new].value)
    key = f"build:{build['id'] or build['nvr']}:{build.get('task_id') or '-'}:{new}"
    return BuildStateChange, (build, old, new, build.get("owner_name")), key


def _on_task(body: dict, action: str | None, stamp: str | None) -> tuple | None:
    if body.get("attribute", "state") != "state":
        return None
    new = _state(TaskState, body, "new", True)
    old = _state(TaskState, body, "old", False)
    task, owner, owner_id = _task(body)
    task.setdefault("state", TaskState[new].value)
    started = task.get("start_ts")
    key = f"task:{task['id']}:{new}:{int(started) if started is not None else '-'}"
    return TaskStateChange, (task, old, new, owner, owner_id), key


def _on_tag(body: dict, action: str, stamp: str | None) -> tuple:
    tag = _name(body, "tag", "body")
    user = _name(body, "user", "body", required=False, limit=limits.USER)
    raw = body.get("build")
    build = _build(raw, "body.build") if type(raw) is dict else _flat_build(body)
    key = f"{action}:{build['id'] or build['nvr']}:{tag}"
    return TagChange, (action, build, tag, user), f"{key}:{stamp}" if stamp else key


def _on_package(body: dict, action: str | None, stamp: str | None) -> tuple:
    action = _field(body, "action", _TEXT, "body", required=action is None) or action
    package, tag = _name(body, "package", "body"), _name(body, "tag", "body")
    user = _name(body, "user", "body", required=False, limit=limits.USER)
    raw_owner = body.get("owner")
    if type(raw_owner) is dict:
        owner = _name(body, "owner", "body", limit=limits.USER)
        owner_id = _field(raw_owner, "id", _INT, "body.owner", required=False)
    else:
        raw_owner = _field(body, "owner", _ID_OR_NAME, "body", required=False)
        owner = raw_owner if type(raw_owner) is str else None
        owner_id = raw_owner if type(raw_owner) is int else None
    key = f"package:{action}:{tag}:{package}"
    return (PackageListChange, (action, package, tag, owner, owner_id, user),
            f"{key}:{stamp}" if stamp else key)


def _on_repo(body: dict, action: str, stamp: str | None) -> tuple:
    repo = body.get("repo")
    if type(repo) is dict:  # protonmsg's repo.done carries the hub's repo record
        tag = _field(repo, "tag_name", _TEXT, "body.repo")
        repo_id = _field(repo, "id", _INT, "body.repo")
    else:
        tag = _name(body, "tag", "body")
        repo_id = _field(body, "repo_id", _INT, "body", required=False)
    if repo_id is not None:  # a repo id names one repo: no stamp needed
        return RepoChange, (action, tag, repo_id), f"repo:{action}:{repo_id}"
    key = f"repo:{action}:{tag}"
    return RepoChange, (action, tag, None), f"{key}:{stamp}" if stamp else key


_HANDLERS = {"build": _on_build, "task": _on_task, "tag": _on_tag, "package": _on_package,
             "repo": _on_repo}
