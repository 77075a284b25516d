"""Bounded events without a server: every text of a bus message (protonmsg and Fedora's) or
a hub answer is capped where it enters (txkoji.limits), and an event's line is one IRC line,
its link a second, however long the fields were."""

from __future__ import annotations

import dataclasses
import json

import pytest
from munch import munchify

from kojibot.chat import render
from kojibot.chat.message import Span, link, text
from kojibot.wording import describe, oneline
from kojibot.wording.failures import Why
from tests.unit.txkoji.test_messages import amqp_value, fedora, proton, proton_json
from txkoji import limits, methods
from txkoji.limits import ELLIPSIS
from txkoji.messages import parse
from txkoji.task import Task

HUGE = 100_000
WEBURL = "https://koji.example.test/koji"
# The longest prefix a server may put before an event's text (kojibot.adapters.irc.lines).
WORST_SOURCE = f"{'n' * 30}!~{'u' * 10}@{'h' * 64}"
WORST_CHANNEL = "#" + "c" * 63


def huge(letter: str = "x") -> str:
    return letter * (HUGE - 2) + "é" + letter  # a multi-byte character past every cap


def with_field(body: dict, path: tuple, value) -> dict:
    node = body
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return body


def proton_with(name: str, path: tuple, value=None):
    key, headers, _ = proton(name)
    body = with_field(proton_json(name), path, huge() if value is None else value)
    return parse(key, headers, amqp_value(json.dumps(body)))


def fedora_with(name: str, path: tuple, value=None, **options):
    key, headers, raw, mid = fedora(name)
    body = with_field(json.loads(raw), path, huge() if value is None else value)
    return parse(options.get("key", key), headers, json.dumps(body).encode(),
                 message_id=options.get("message_id", mid))


def texts(value):
    """Every text in an event: its fields and, within them, records, lists and dicts."""
    if dataclasses.is_dataclass(value):
        value = [getattr(value, f.name) for f in dataclasses.fields(value)]
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from texts(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from texts(item)


def request_xml(src: str) -> str:
    import xmlrpc.client

    return xmlrpc.client.dumps((src, "f41-candidate", {"scratch": True}), "build")


# (message, where the huge text goes, what of the event holds it, its cap)
CASES = [
    (proton_with, "build_complete", ("info", "name"), lambda e: e.build["name"], limits.NAME),
    (proton_with, "build_complete", ("info", "version"), lambda e: e.build["version"],
     limits.VERSION),
    (proton_with, "build_complete", ("info", "release"), lambda e: e.build["release"],
     limits.VERSION),
    (proton_with, "build_complete", ("info", "nvr"), lambda e: e.build.nvr, limits.NVR),
    (proton_with, "build_complete", ("info", "owner_name"), lambda e: e.owner, limits.USER),
    (proton_with, "build_complete", ("info", "source"), lambda e: e.build["source"],
     limits.OTHER),
    (proton_with, "task_free", ("info", "method"), lambda e: e.task.method, limits.METHOD),
    (proton_with, "task_free", ("info", "arch"), lambda e: e.task["arch"], limits.ARCH),
    (proton_with, "task_free", ("info", "label"), lambda e: e.task["label"], limits.LABEL),
    (proton_with, "task_free", ("info", "request"), lambda e: e.task.params[0], limits.OTHER,
     request_xml(huge())),
    (proton_with, "build_tag", ("tag", "name"), lambda e: e.tag, limits.NAME),
    (proton_with, "build_tag", ("user", "name"), lambda e: e.user, limits.USER),
    (proton_with, "build_tag", ("build", "name"), lambda e: e.build["name"], limits.NAME),
    (proton_with, "package_add", ("package", "name"), lambda e: e.package, limits.NAME),
    (proton_with, "package_add", ("tag", "name"), lambda e: e.tag, limits.NAME),
    (proton_with, "package_add", ("user", "name"), lambda e: e.user, limits.USER),
    (proton_with, "package_add", ("owner",), lambda e: e.owner, limits.USER),
    (proton_with, "repo_done", ("repo", "tag_name"), lambda e: e.tag, limits.NAME),
    (fedora_with, "build_state_change", ("name",), lambda e: e.build["name"], limits.NAME),
    (fedora_with, "build_state_change", ("owner",), lambda e: e.owner, limits.USER),
    (fedora_with, "build_state_change", ("instance",), lambda e: e.instance, limits.INSTANCE),
    (fedora_with, "build_state_change", ("request", 0), lambda e: e.build.get("request"),
     None),
    (fedora_with, "build_state_change", ("url",), lambda e: e.hub_host, limits.DNS_NAME,
     "https://" + huge("h") + ".test/koji/buildinfo?buildID=1402"),
    (fedora_with, "task_state_change", ("owner",), lambda e: e.owner, limits.USER),
    (fedora_with, "task_state_change", ("info", "method"), lambda e: e.task.method,
     limits.METHOD),
    (fedora_with, "task_state_change", ("info", "host_name"), lambda e: e.task["host_name"],
     limits.HOST),
    (fedora_with, "task_state_change", ("info", "request", 0), lambda e: e.task.params[0],
     limits.OTHER),
    (fedora_with, "tag", ("tag",), lambda e: e.tag, limits.NAME),
    (fedora_with, "tag", ("user",), lambda e: e.user, limits.USER),
    (fedora_with, "tag", ("owner",), lambda e: e.build["owner_name"], limits.USER),
    (fedora_with, "tag", ("release",), lambda e: e.build["release"], limits.VERSION),
    (fedora_with, "package_list_change", ("package",), lambda e: e.package, limits.NAME),
    (fedora_with, "package_list_change", ("tag",), lambda e: e.tag, limits.NAME),
    (fedora_with, "package_list_change", ("owner",), lambda e: e.owner, limits.USER),
    (fedora_with, "package_list_change", ("action",), lambda e: e.action, limits.ACTION),
    (fedora_with, "repo_init", ("tag",), lambda e: e.tag, limits.NAME),
]


def ids(case) -> str:
    return f"{case[0].__name__.split('_')[0]}-{case[1]}-{'.'.join(map(str, case[2]))}"


@pytest.mark.parametrize("case", CASES, ids=[ids(case) for case in CASES])
def test_every_event_field_is_capped_with_an_ellipsis(case):
    make, name, path, held, cap, *value = case
    event = make(name, path, *value)
    if cap is not None:
        got = held(event)
        assert (len(got) == cap and got.endswith(ELLIPSIS) and got.startswith("x" * 10)) or \
            got == "h" * (cap - 1) + ELLIPSIS, got[-20:]
    assert max(len(t) for t in texts(event)) <= limits.OTHER
    assert len(event.dedupe_key) < 3 * limits.NVR


def test_message_id_routing_key_and_a_nested_text_are_capped():
    event = fedora_with("tag", ("user",), "bodhi", message_id=huge("m"),
                        key=huge("k") + ".buildsys.tag")
    assert event.message_id == "m" * (limits.MESSAGE_ID - 1) + ELLIPSIS
    assert len(event.routing_key) == limits.ROUTING_KEY and event.user == "bodhi"
    event = proton_with("build_tag", ("build", "extra"), {"deep": [[[huge()]]]})
    assert len(event.build["extra"]["deep"][0][0][0]) == limits.OTHER


def test_texts_within_their_caps_are_untouched():
    assert parse(*fedora("tag")[:3]) == parse(*fedora("tag")[:3])
    event = fedora_with("tag", ("user",), "u" * limits.USER)
    assert event.user == "u" * limits.USER


def test_capping_walks_any_depth_without_recursion():
    value: list = [huge()]
    for _ in range(100_000):
        value = [value]
    limits.capped(value)
    while isinstance(value[0], list):
        value = value[0]
    assert len(value[0]) == limits.OTHER


def test_hub_records_are_capped_log_contents_are_not():
    build = methods.enrich("getBuild", munchify({"id": 1, "name": huge(), "version": "1",
                                                 "release": "1", "owner_name": huge()}), None)
    assert (len(build["name"]), len(build["owner_name"])) == (limits.NAME, limits.USER)
    user = methods.enrich("getUser", munchify({"id": 3, "name": huge(),
                                               "krb_principals": [huge()]}), None)
    assert len(user["name"]) == len(user["krb_principals"][0]) == limits.USER
    tags = methods.enrich("listTags", [munchify({"id": 5, "name": huge()})], None)
    assert tags[0]["name"].endswith(ELLIPSIS)
    log = huge()
    assert methods.enrich("downloadTaskOutput", log, None) is log
    task = Task.from_info({"id": 1, "method": "build", "request": request_xml(huge())})
    assert len(task.params[0]) == limits.OTHER and task.package.endswith(ELLIPSIS)


# Rendering -----------------------------------------------------------------------------------


def irc_lines(message) -> list[str]:
    from kojibot.adapters.irc.lines import privmsg_lines

    return [line.split(" :", 1)[1] for line in
            privmsg_lines(WORST_CHANNEL, render.irc(message), WORST_SOURCE)]


def event_message(event):
    if event.kind == "package_list":
        return describe.package_list_line(event, event.owner, WEBURL)[0]
    if event.kind == "task_state":
        return describe.task_event_line(event.task, event.new, event.old, event.owner,
                                        f"{WEBURL}/taskinfo?taskID={event.task['id']}")
    if event.kind == "repo":
        return None
    return describe.event_line(event, huge("o"), WEBURL)[0]


@pytest.mark.parametrize("case", CASES, ids=[ids(case) for case in CASES])
def test_an_event_line_is_one_irc_line_and_its_link_a_second(case):
    make, name, path, _held, _cap, *value = case
    message = event_message(make(name, path, *value))
    if message is None:
        return
    words = [part for part in message.parts if not isinstance(part, Span) or part.style != "link"]
    assert len(render.irc(text(*words)).encode()) <= oneline.WORDS + 16  # codes, " — "
    links = [part.url for part in message.parts if isinstance(part, Span) and part.url]
    got = irc_lines(message)
    assert len(got) <= 2 and (len(got) == 1 or got[1] in links), got
    assert "\n" not in render.plain(message) and len(render.plain(message)) < 600


def test_a_package_link_too_long_for_a_line_is_left_out():
    event = fedora_with("package_list_change", ("package",), "ü" * limits.NAME)
    message, summary = describe.package_list_line(event, None, WEBURL)
    assert not [part for part in message.parts if isinstance(part, Span) and part.url]
    assert len(irc_lines(message)) == 1 and summary.endswith(" in f41")
    short = describe.package_list_line(fedora_with("package_list_change", ("package",), "bash"),
                                       None, WEBURL)[0]
    assert render.plain(short).endswith(f"{WEBURL}/packageinfo?packageID=bash")


def test_a_digest_of_huge_events_is_one_line():
    summaries = [f"builds completed\t{'é' * 700}-{n}" for n in range(12)]
    message = describe.digest_line(summaries)
    assert len(irc_lines(message)) == 1
    assert render.plain(message).startswith("12 builds completed: éé")
    assert render.plain(message).endswith(" +9 more")


def test_fit_cuts_the_longest_texts_first_at_character_boundaries():
    message = text("Build ", Span("é" * 400, "bold"), " tagged into f41 by ", "a" * 50,
                   " — ", link("https://x.test/" + "l" * 150))
    fitted = oneline.fit(message, 200)
    assert fitted.parts[0] == "Build " and fitted.parts[2] == " tagged into f41 by "
    assert fitted.parts[3] == "a" * 50 and fitted.parts[5] == message.parts[5]
    bold = fitted.parts[1]
    assert bold.style == "bold" and bold.text.endswith(ELLIPSIS) and "\ufffd" not in bold.text
    assert sum(len((p if isinstance(p, str) else p.text).encode())
               for p in fitted.parts[:5]) == 200
    assert oneline.fit(text("short"), 200).parts == ["short"]


def test_a_failure_reason_adds_at_most_a_quoted_line():
    why = Why(Task({"id": 5, "arch": "x86_64"}), reason=huge(), log="build.log")
    said = text(*why.parts("https://koji.example.test/kojifiles"))
    assert len(render.plain(said)) < 400
