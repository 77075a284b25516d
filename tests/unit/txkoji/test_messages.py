"""txkoji.messages and txkoji.amqp10: bus deliveries in, typed events or one-line errors out.

Fixtures (written by tests/data/messages/make_fixtures.py): the bytes qpid-proton encodes for
koji's protonmsg plugin as RabbitMQ hands them to an AMQP 0-9-1 consumer, and Fedora bodies
that validate against the koji-fedoramessaging-messages schemas.
"""

import functools
import json
import os
import struct
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import DATA
from txkoji import KojiException, amqp10, messages
from txkoji.build import Build
from txkoji.messages import MalformedMessage, parse
from txkoji.task import Task

DATA = DATA / "messages"
PROPS, APP = "x-amqp-1.0-properties", "x-amqp-1.0-app-properties"


def as_client(raw: bytes):
    """What AMQP client libraries hand over: text when the bytes are valid UTF-8, else bytes."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


def proton(name: str):
    """(routing key, headers, body) of one protonmsg fixture."""
    fixture = json.loads((DATA / "protonmsg" / f"{name}.json").read_text())
    headers = {k: as_client(bytes.fromhex(v)) for k, v in fixture["headers_hex"].items()}
    return fixture["routing_key"], headers, bytes.fromhex(fixture["body_hex"])


def fedora(name: str):
    """(routing key, headers, body, message id) of one Fedora fixture."""
    fixture = json.loads((DATA / "fedora" / f"{name}.json").read_text())
    body = json.dumps(fixture["body"]).encode()
    return fixture["routing_key"], fixture["headers"], body, fixture["message_id"]


def proton_json(name: str) -> dict:
    return json.loads(amqp10.body_text(proton(name)[2]))


def amqp_value(text: str) -> bytes:
    raw = text.encode()
    if len(raw) < 256:
        return b"\x00\x53\x77\xa1" + bytes([len(raw)]) + raw
    return b"\x00\x53\x77\xb1" + struct.pack(">I", len(raw)) + raw


# protonmsg through RabbitMQ ------------------------------------------------------------------


@pytest.mark.parametrize("name,old,new", [("build_building", None, "BUILDING"),
                                          ("build_complete", "BUILDING", "COMPLETE"),
                                          ("build_failed", "BUILDING", "FAILED")])
def test_protonmsg_build_state(name, old, new):
    event = parse(*proton(name))
    assert isinstance(event, messages.BuildStateChange) and event.kind == "build_state"
    assert (event.old, event.new, event.owner) == (old, new, "jiří")
    build = event.build
    assert isinstance(build, Build) and build.connection is None
    assert (build.nvr, build.record_id, build.task_id, build["owner_id"]) == (
        "bash-5.2.26-3.fc41", 1402, 90211, 12)
    assert build.state_name == new and build.started == datetime(2024, 5, 1, 10, 5, 41,
                                                                 120455, tzinfo=UTC)
    assert event.dedupe_key == f"build:1402:90211:{new}"
    assert event.routing_key == f"koji.build.{new.lower()}" and event.message_id is None
    assert hash(event) == hash(parse(*proton(name)))
    with pytest.raises(AttributeError):
        event.new = "DELETED"


@pytest.mark.parametrize("name", ["build_complete", "task_free", "repo_init"])
def test_plain_json_body_as_text_gives_the_same_event(name):
    """An amqp-value section is never valid UTF-8 (0xa1/0xb1 continue a sequence), so clients
    pass it on as bytes; a plain JSON body may arrive as text (some clients) or bytes (pika)."""
    key, headers, body = proton(name)
    assert isinstance(as_client(body), bytes) and isinstance(headers[PROPS], str)
    text = json.dumps(proton_json(name), ensure_ascii=False)  # raw "jiří": UTF-8, not latin-1
    assert parse(key, {}, text) == parse(key, {}, text.encode()) == parse(key, headers, body)
    assert amqp10.to_bytes("jiří") == "jiří".encode() != "jiří".encode("latin-1", "replace")


def test_protonmsg_task_free_has_its_raw_xml_request_decoded():
    event = parse(*proton("task_free"))
    assert isinstance(event, messages.TaskStateChange) and event.kind == "task_state"
    assert (event.old, event.new, event.owner, event.owner_id) == (None, "FREE", None, 12)
    task = event.task
    assert isinstance(task, Task) and task.connection is None
    assert isinstance(proton_json("task_free")["info"]["request"], str)
    assert task["request"][1] == "f41-candidate" and task.is_scratch and task.package == "bash"
    assert (task.method, task.get("parent"), task.state_name) == ("build", None, "FREE")
    assert event.dedupe_key == "task:90211:FREE:-"


def test_protonmsg_task_closed():
    event = parse(*proton("task_closed"))
    task = event.task
    assert (event.old, event.new, event.owner_id) == ("OPEN", "CLOSED", 12)
    assert (task["id"], task["parent"], task.arch, task.label) == (
        90212, 90211, "x86_64", "bash-5.2.26-3.fc41")
    assert task.duration.total_seconds() == 971 and task["result"]["brootid"] == 4312
    assert event.dedupe_key == f"task:90212:CLOSED:{int(task['start_ts'])}"


def test_protonmsg_tag_and_untag():
    tagged, untagged = parse(*proton("build_tag")), parse(*proton("build_untag"))
    assert isinstance(tagged, messages.TagChange) and tagged.kind == "tag"
    assert (tagged.action, tagged.tag, tagged.user) == ("tag", "f41-updates-candidate", "jiří")
    assert (untagged.action, untagged.user) == ("untag", "bodhi")
    assert tagged.build.nvr == untagged.build.nvr == "bash-5.2.26-3.fc41"
    assert tagged.dedupe_key == "tag:1402:f41-updates-candidate"
    assert untagged.dedupe_key == "untag:1402:f41-updates-candidate"


def test_amqp10_message_id_and_creation_time_reach_the_event():
    event = parse(*proton("build_tag_with_id"))
    assert event.message_id == "urn:uuid:0b4bdf1e-9a43-4a51-9d7c-7b1d2d0c6a11"
    assert event.dedupe_key == f"tag:1402:f41-updates-candidate:{event.message_id}"
    props = amqp10.from_header(proton("build_tag_with_id")[1][PROPS], "properties")
    assert amqp10.properties(props)["creation-time"] == datetime(2024, 5, 1, 10, 22, 22, 620000,
                                                                  tzinfo=UTC)


CAND = "f41-updates-candidate"
SIMPLE = [
    (proton, "package_add", "package_list", {
        "action": "add", "package": "bash", "tag": CAND, "user": "bodhi", "owner": None,
        "owner_id": 12, "dedupe_key": f"package:add:{CAND}:bash"}),
    (proton, "package_remove", "package_list", {
        "action": "remove", "owner_id": None, "dedupe_key": f"package:remove:{CAND}:bash"}),
    (proton, "repo_init", "repo", {"action": "init", "tag": "f41-build", "repo_id": 310,
                                   "dedupe_key": "repo:init:310"}),
    (proton, "repo_done", "repo", {"action": "done", "dedupe_key": "repo:done:310"}),
    (fedora, "package_list_change", "package_list", {
        "action": "block", "package": "bash", "tag": "f41", "owner": None, "user": None}),
    (fedora, "repo_init", "repo", {"action": "init", "tag": "f41-build", "repo_id": 311,
                                   "dedupe_key": "repo:init:311"}),
    (fedora, "repo_done", "repo", {"action": "done", "dedupe_key": "repo:done:311"}),
    (proton, "import_build", None, {}), (proton, "sign_rpm", None, {}),
    (fedora, "rpm_sign", None, {}),
]


@pytest.mark.parametrize("source,name,kind,fields", SIMPLE)
def test_package_list_repo_and_uninteresting_messages(source, name, kind, fields):
    event = parse(*source(name)[:3])
    classes = {"package_list": messages.PackageListChange, "repo": messages.RepoChange}
    assert event is None if kind is None else type(event) is classes[kind] and event.kind == kind
    assert {key: getattr(event, key) for key in fields} == fields


def test_unknown_routing_key_falls_back_to_the_type_application_property():
    _, headers, body = proton("build_tag")
    assert amqp10.from_header(headers[APP], "application-properties") == {
        "type": "Tag", "tag": CAND, "name": "bash", "version": "5.2.26", "release": "3.fc41",
        "user": "jiří"}
    event = parse("somewhere.else", headers, body)
    assert event.routing_key == "somewhere.else" and event.action == "tag"
    assert event.dedupe_key == parse(*proton("build_tag")).dedupe_key
    assert parse("somewhere.else", {}, body) is None


# Fedora (koji-fedoramessaging) ---------------------------------------------------------------


def test_fedora_build_state_change_dedupes_with_protonmsg():
    key, headers, body, mid = fedora("build_state_change")
    event = parse(key, headers, body, message_id=mid)
    assert isinstance(event, messages.BuildStateChange) and event.message_id == mid
    assert (event.old, event.new, event.owner) == ("BUILDING", "COMPLETE", "jiří")
    assert (event.build.nvr, event.build.record_id, event.build.task_id) == (
        "bash-5.2.26-3.fc41", 1402, 90211)
    assert event.build.duration.total_seconds() == 1000
    assert event.dedupe_key == parse(*proton("build_complete")).dedupe_key


def test_fedora_task_state_change_names_the_owner():
    event = parse(*fedora("task_state_change")[:3])
    assert (event.old, event.new, event.owner, event.owner_id) == ("FREE", "OPEN", "jiří", None)
    assert event.task.package == "bash" and event.task.is_scratch
    assert event.task.started == datetime(2024, 5, 1, 10, 5, 46, 120455, tzinfo=UTC)


@pytest.mark.parametrize("name,action,user", [("tag", "tag", "bodhi"),
                                              ("untag", "untag", "autopen")])
def test_fedora_tag_and_untag(name, action, user):
    key, headers, body, mid = fedora(name)
    event = parse(key, headers, body, message_id=mid)
    assert (event.action, event.tag, event.user, event.build.nvr) == (
        action, "f41-updates-candidate", user, "bash-5.2.26-3.fc41")
    assert event.build["owner_name"] == "jiří"
    assert event.dedupe_key == f"{action}:1402:f41-updates-candidate:{mid}"
    assert parse(key, headers, body, message_id=mid).dedupe_key == event.dedupe_key
    later = parse(key, headers, body, message_id=str(uuid.uuid4()))
    assert later.dedupe_key != event.dedupe_key, "a later re-tag is a new event"
    without_id = parse(key, headers, body)
    assert without_id.dedupe_key.endswith(":2024-05-01T10:22:22+00:00")


def test_fedora_unknown_topics_give_none():
    _, headers, body, _ = fedora("tag")
    assert parse("org.fedoraproject.prod.bodhi.update.comment", {}, body) is None
    assert parse("elsewhere", headers, body) is None


# Malformed input -----------------------------------------------------------------------------


def _edit(name: str, change) -> bytes:
    body = proton_json(name)
    change(body)
    return amqp_value(json.dumps(body))


def _info(name: str, **fields) -> bytes:
    return _edit(name, lambda body: body["info"].update(fields))


BC, TF, REPO = "koji.build.complete", "koji.task.free", proton("repo_init")
MALFORMED = [
    (BC, {}, b"{not json", "body is not JSON: Expecting property name"),
    (BC, {}, b"[1, 2]", "body is a JSON list, not an object"),
    (BC, {}, b"\xff{}", "body: not UTF-8: invalid start byte at 0"),
    (BC, {}, b'{"new": NaN}', "NaN is not a JSON number"),
    (BC, {}, b"[" * 100000, "body is not JSON: maximum recursion depth"),
    (BC, {}, b'{"new": 1, "x": "\\udc00"}', "lone UTF-16 surrogate"),
    (BC, {}, 42, "body: neither bytes nor text: int"),
    (BC, {}, proton("build_complete")[2][:-9], "body: truncated at offset"),
    (BC, {}, b"\x00\x53\x77\x40", "amqp-value is a NoneType, not text"),
    (BC, {}, b"\x00\x53\x99\x40", "not a message section"),
    (BC, {}, b'{"new": 1}', "body has no name"),
    (BC, {}, b'{"new": "DONE"}', "body.new is not a BuildState: 'DONE'"),
    (BC, {}, _info("build_complete", id=True), "body.info.id is not an integer: True"),
    (BC, {}, _info("build_complete", start_ts=None, start_time="soon"),
     "body.info.start_time is not a time"),
    (BC, {}, _info("build_complete", completion_ts=1e300),
     "body.info.completion_ts is not a time: 1e+300"),
    (TF, {}, _info("task_free", request="<methodCall><params>"),
     "body.info.request is unreadable XML-RPC"),
    (TF, {}, _edit("task_free", lambda b: b.pop("info")), "body has no info"),
    ("koji.build.tag", {}, _edit("build_tag", lambda b: b["build"].update(
        creation_ts=None, creation_time="0001-01-01 00:00:00+01:00")),
     "body.build.creation_time is not a time"),
    ("koji.build.tag", {}, _edit("build_tag", lambda b: b["tag"].pop("name")),
     "body.tag has no name"),
    ("koji.repo.done", {}, _edit("repo_done", lambda b: b["repo"].update(id="310")),
     "body.repo.id is not an integer: '310'"),
    (REPO[0], {PROPS: "\x00Ss"}, REPO[2], "header x-amqp-1.0-properties: truncated at offset 3"),
    (REPO[0], {PROPS: 7}, REPO[2], "header x-amqp-1.0-properties: neither bytes nor text: int"),
    (REPO[0], {PROPS: REPO[1][APP]}, REPO[2],
     "expected one properties section, found application-properties"),
    (REPO[0], ["not", "a", "table"], b"{}", "headers are not a table: list"),
    (None, {}, b"{}", "routing key is not text: None"),
]


@pytest.mark.parametrize("key,headers,body,reason", MALFORMED)
def test_malformed_messages_raise_one_line(key, headers, body, reason):
    with pytest.raises(MalformedMessage) as info:
        parse(key, headers, body)
    assert reason in str(info.value) and "\n" not in str(info.value)
    assert isinstance(info.value, KojiException) and info.value.reason == str(info.value)


# The AMQP 1.0 decoder ------------------------------------------------------------------------

UUID = uuid.UUID("0b4bdf1e-9a43-4a51-9d7c-7b1d2d0c6a11")


@pytest.mark.parametrize("hexdata,value", [
    ("40", None), ("41", True), ("42", False), ("5601", True), ("5600", False),
    ("50ff", 255), ("60ffff", 65535), ("70ffffffff", 2**32 - 1), ("43", 0), ("44", 0),
    ("80ffffffffffffffff", 2**64 - 1), ("5307", 7), ("52ff", 255), ("71ffffffff", -1),
    ("81fffffffffffffffe", -2), ("55fe", -2), ("54fd", -3), ("51fc", -4), ("61fffb", -5),
    ("830000018f33ad3d9c", datetime(2024, 5, 1, 10, 22, 22, 620000, tzinfo=UTC)),
    ("98" + UUID.hex, UUID), ("a003616263", b"abc"), ("b000000002ffff", b"\xff\xff"),
    ("a102c3a9", "é"), ("b100000002c3a9", "é"), ("a30161", "a"), ("b30000000162", "b"),
    ("45", []), ("c0050241a10178", [True, "x"]), ("d0000000080000000241a10178", [True, "x"]),
    ("c10502a1016141", {"a": True}), ("d1000000080000000254075308", {7: 8}),
    ("e004025401ff", [1, -1]), ("f00000000700000002540102", [1, 2]), ("e0021040", [None] * 16),
    ("e007020053035600" + "01", [amqp10.Described(3, False), amqp10.Described(3, True)]),
    ("005373c00401a10161", amqp10.Described(0x73, ["a"])),
])
def test_amqp10_types(hexdata, value):
    assert amqp10.decode(bytes.fromhex(hexdata)) == value


def test_amqp10_symbols_and_section_names():
    assert isinstance(amqp10.decode(bytes.fromhex("a30161")), amqp10.Symbol)
    symbolic = b"\x00\xa3\x11amqp:amqp-value:*" + b"\xa1\x02{}"
    assert amqp10.decode_sections(symbolic) == [("amqp-value", "{}")]
    assert amqp10.body_text(b"\x00\x53\x75\xa0\x01{" + b"\x00\x53\x75\xa0\x01}") == "{}"


NESTED = functools.reduce(lambda inner, _: b"\xc0" + bytes([len(inner) + 1, 1]) + inner,
                          range(40), b"\x45")


@pytest.mark.parametrize("hexdata,reason", [
    ("", "truncated at offset 0: need 1 bytes, 0 left"), ("ee", "constructor 0xee at offset 0"),
    ("b1000000", "truncated at offset 1: need 4 bytes, 3 left"), ("5602", "boolean byte 0x2"),
    ("a105616263", "truncated at offset 2: need 5 bytes, 3 left"),
    ("c0020541", "5 items cannot fit in 1 bytes"), ("c103024541", "map key [] is not hashable"),
    ("e0021050", "16 array items cannot fit in 0 bytes"),
    ("c104024141ff", "compound value ends at offset 5, its size says 6"),
    ("c1020141", "map holds an odd number of items (1)"), ("837fffffffffffffff", "out of range"),
    ("a103c3a9e2", "string at offset 2 is not valid text: unexpected end of data"),
    ("a301ff", "symbol at offset 2 is not valid text"),
    ("7300110000", "char 0x110000 is not a Unicode scalar value"),
    ("0053774041", "1 bytes left after the value"), ("00" * 40 + "40", "nesting deeper than 32"),
    (NESTED.hex(), "nesting deeper than 32"),
])
def test_amqp10_malformed(hexdata, reason):
    with pytest.raises(amqp10.AMQPDecodeError) as info:
        amqp10.decode(bytes.fromhex(hexdata))
    assert reason in str(info.value)


# Fuzzing: nothing but MalformedMessage (or AMQPDecodeError) ever escapes ------------------------

KEYS = ["koji.build.complete", "koji.task.free", "koji.build.tag", "koji.package.add",
        "koji.repo.done", "org.fedoraproject.prod.buildsys.build.state.change",
        "org.fedoraproject.prod.buildsys.tag", "elsewhere"]
FIXTURES = [proton(n) for n in ("build_complete", "task_free", "task_closed", "build_tag_with_id",
                                "package_add", "repo_done", "repo_init")]
FIXTURES += [fedora(n)[:3] for n in ("build_state_change", "task_state_change", "untag",
                                     "package_list_change", "repo_init")]
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                    lambda kids: st.lists(kids, max_size=4)
                    | st.dictionaries(st.text(max_size=8), kids, max_size=4), max_leaves=12)
# KOJIBOT_FUZZ_EXAMPLES=20000 for a longer hunt than the default run's.
FUZZ = settings(max_examples=int(os.environ.get("KOJIBOT_FUZZ_EXAMPLES", 300)), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def parses_or_malformed(key, headers, body):
    """None, a MalformedMessage, or an event whose objects answer what renderers ask."""
    try:
        event = parse(key, headers, body)
    except MalformedMessage as exc:
        assert "\n" not in str(exc)
        return
    assert event is None or event.dedupe_key
    for record in (getattr(event, "build", None), getattr(event, "task", None)):
        for name in ("nvr", "state_name", "duration", "task_id", "label", "arch", "is_open"):
            getattr(record, name, None)


@FUZZ
@given(st.sampled_from(KEYS), st.binary(max_size=300),
       st.dictionaries(st.sampled_from([PROPS, APP, "sent-at"]), st.binary(max_size=40)
                       | st.text(max_size=20) | st.integers()))
def test_fuzz_random_bytes(key, body, headers):
    parses_or_malformed(key, headers, body)
    parses_or_malformed(key, headers, b"\x00\x53\x77" + body)


@FUZZ
@given(st.sampled_from(KEYS), JSON, st.sampled_from(FIXTURES))
def test_fuzz_random_json(key, value, fixture):
    parses_or_malformed(key, fixture[1], json.dumps(value))


@FUZZ
@given(st.sampled_from(FIXTURES), st.data())
def test_fuzz_mutated_fixtures(fixture, data):
    key, headers, body = fixture
    raw = bytearray(body)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(raw)))
        raw[at:at + data.draw(st.integers(0, 3))] = data.draw(st.binary(max_size=3))
    headers = dict(headers)
    amqp_headers = sorted(set(headers) & {PROPS, APP})
    if amqp_headers and data.draw(st.booleans()):
        name = data.draw(st.sampled_from(amqp_headers))
        value = amqp10.to_bytes(headers[name])
        at = data.draw(st.integers(0, len(value)))
        headers[name] = as_client(value[:at] + data.draw(st.binary(max_size=3)) + value[at + 1:])
    parses_or_malformed(key, headers, bytes(raw))


@FUZZ
@given(st.sampled_from(FIXTURES), st.data())
def test_fuzz_json_field_replaced(fixture, data):
    key, headers, body = fixture
    tree = json.loads(amqp10.body_text(body) if body[:1] == b"\x00" else body)
    node = tree
    while isinstance(node, dict) and node:
        field = data.draw(st.sampled_from(sorted(node)))
        if not isinstance(node[field], dict) or data.draw(st.booleans()):
            node[field] = data.draw(JSON)
            break
        node = node[field]
    parses_or_malformed(key, headers, amqp_value(json.dumps(tree)))


@FUZZ
@given(st.binary(max_size=200))
def test_fuzz_amqp10_decoder(data):
    for decoder in (amqp10.decode, amqp10.decode_sections, amqp10.body_text):
        try:
            decoder(data)
        except amqp10.AMQPDecodeError:
            pass
