"""Write the bus-message fixtures under tests/data/messages/ (run it again after editing).

protonmsg/*.json: what an AMQP 0-9-1 consumer gets from RabbitMQ for koji's protonmsg plugin.
The plugin sends ``proton.Message(properties=props, body=json.dumps(kws))`` to
``<topic_prefix>.<address>``; RabbitMQ's AMQP 1.0 plugin passes the properties and
application-properties sections on as the ``x-amqp-1.0-properties`` and
``x-amqp-1.0-app-properties`` headers and the amqp-value section as the body, all as the bytes
proton encoded. Those bytes come from qpid-proton itself, so this part needs
``pip install python-qpid-proton==0.40.0``. The records (build, task, tag, user, repo) have the
fields koji 1.30's hub gives its callbacks; the values are made up.

fedora/*.json: koji-fedoramessaging messages (routing key, headers, JSON body), with bodies
shaped as the koji_fedoramessaging_messages schemas require.
"""

from __future__ import annotations

import copy
import json
import pathlib
import uuid
import xmlrpc.client

HERE = pathlib.Path(__file__).parent
T0 = 1714557941.120455  # 2024-05-01 10:05:41 UTC


def stamp(offset: float) -> str:
    import datetime

    moment = datetime.datetime.fromtimestamp(T0 + offset, tz=datetime.UTC)
    return moment.isoformat(" ")


SCM = "git+https://src.example.test/rpms/bash.git#4e1f0c9d2b7a"
BUILD = {
    "id": 1402, "build_id": 1402, "name": "bash", "package_name": "bash", "package_id": 77,
    "version": "5.2.26", "release": "3.fc41", "epoch": None, "nvr": "bash-5.2.26-3.fc41",
    "state": 0, "task_id": 90211, "owner_id": 12, "owner_name": "jiří",
    "creation_event_id": 55012, "creation_time": stamp(0), "creation_ts": T0,
    "start_time": stamp(0), "start_ts": T0, "completion_time": None, "completion_ts": None,
    "volume_id": 0, "volume_name": "DEFAULT", "cg_id": None, "cg_name": None, "source": SCM,
    "extra": {"source": {"original_url": SCM}},
}
TAG = {"id": 5, "name": "f41-updates-candidate", "perm": None, "perm_id": None, "arches": "",
       "locked": False, "maven_support": False, "maven_include_all": False,
       "extra": {"description": "candidates \U0001F680"}}
BUILD_TAG = {"id": 6, "name": "f41-build"}
USER = {"id": 3, "name": "bodhi", "status": 0, "usertype": 0, "krb_principals": []}
ALICE = {"id": 12, "name": "jiří", "status": 0, "usertype": 0, "krb_principals": []}
TASK = {
    "id": 90212, "state": 2, "parent": 90211, "label": "x86_64", "method": "buildArch",
    "arch": "x86_64", "owner": 12, "channel_id": 2, "host_id": 3, "priority": 19,
    "weight": 1.5, "waiting": None, "awaited": False,
    "create_time": stamp(2), "create_ts": T0 + 2, "start_time": stamp(9), "start_ts": T0 + 9,
    "completion_time": stamp(980), "completion_ts": T0 + 980,
    "request": ["tasks/211/90211/bash-5.2.26-3.fc41.src.rpm", 6, "x86_64", True,
                {"repo_id": 310}],
    "result": {"rpms": ["tasks/212/90212/bash-5.2.26-3.fc41.x86_64.rpm"], "srpms": [],
               "logs": ["tasks/212/90212/build.log"], "brootid": 4312},
}


def build(state: int, **changes) -> dict:
    info = copy.deepcopy(BUILD)
    info.update(state=state, **changes)
    return info


def free_task() -> dict:
    """``make_task``'s record: the request is still the XML-RPC document the hub stores."""
    request = xmlrpc.client.dumps((SCM, "f41-candidate", {"scratch": True}), methodname="build",
                                  allow_none=True)
    return {"id": 90211, "state": 0, "method": "build", "arch": "noarch", "owner": 12,
            "parent": None, "label": None, "channel_id": 1, "priority": 20, "request": request}


def protonmsg_cases() -> dict[str, tuple[str, dict, dict]]:
    """name -> (address, application properties, callback keywords)."""
    def bprops(info, old, new):
        return {"type": "BuildStateChange", "name": info["name"], "version": info["version"],
                "release": info["release"], "attribute": "state", "old": old, "new": new}

    def tprops(info, old, new):
        return {"type": "TaskStateChange", "id": info["id"], "parent": info["parent"],
                "method": info["method"], "attribute": "state", "old": old, "new": new}

    def tag_props(kind, kws):
        b = kws["build"]
        return {"type": kind, "tag": kws["tag"]["name"], "name": b["name"],
                "version": b["version"], "release": b["release"], "user": kws["user"]["name"]}

    building = build(0)
    complete = build(1, completion_time=stamp(1000), completion_ts=T0 + 1000)
    failed = build(3, completion_time=stamp(400), completion_ts=T0 + 400)
    tagged = {"tag": TAG, "build": complete, "user": ALICE, "force": False}
    untagged = {"tag": TAG, "build": complete, "user": USER, "force": False, "strict": True}
    pkg_add = {"action": "add", "tag": TAG, "package": {"id": 77, "name": "bash"}, "owner": 12,
               "block": False, "extra_arches": None, "force": False, "update": False,
               "user": USER}
    pkg_remove = {"action": "remove", "tag": TAG, "package": {"id": 77, "name": "bash"},
                  "user": USER}
    repo_init = {"tag": BUILD_TAG, "with_src": False, "with_debuginfo": False, "event": 55100,
                 "repo_id": 310, "with_separate_src": False, "task_id": 90300}
    repo_done = {"repo": {"id": 310, "state": 1, "create_event": 55100, "create_ts": T0 + 60,
                          "creation_time": stamp(60), "tag_id": 6, "tag_name": "f41-build",
                          "dist": False, "task_id": 90300},
                 "data": {"x86_64": ["tasks/301/90301", ["repomd.xml"]]}, "expire": False,
                 "task_id": None}
    imported = {"type": "build", "srpm": None, "rpms": [], "brmap": {}, "task_id": None,
                "build_id": 1403, "build": build(1, id=1403, build_id=1403), "logs": None}
    sign = {"sigkey": "a15b79cc", "sighash": "9f0c5e", "build": complete,
            "rpm": {"id": 8800, "name": "bash", "version": "5.2.26", "release": "3.fc41",
                    "arch": "x86_64", "build_id": 1402}}
    free, closed = free_task(), copy.deepcopy(TASK)
    pkg_props = {"type": "PackageListChange", "tag": TAG["name"], "package": "bash",
                 "user": USER["name"]}
    return {
        "build_building": ("build.building", bprops(building, None, "BUILDING"),
                           {"attribute": "state", "old": None, "new": 0, "info": building,
                            "btypes": {"rpm": None}}),
        "build_complete": ("build.complete", bprops(complete, "BUILDING", "COMPLETE"),
                           {"attribute": "state", "old": 0, "new": 1, "info": complete,
                            "btypes": {"rpm": None}}),
        "build_failed": ("build.failed", bprops(failed, "BUILDING", "FAILED"),
                         {"attribute": "state", "old": 0, "new": 3, "info": failed,
                          "btypes": {"rpm": None}}),
        "task_free": ("task.free", tprops(free, None, "FREE"),
                      {"attribute": "state", "old": None, "new": "FREE", "info": free}),
        "task_closed": ("task.closed", tprops(closed, "OPEN", "CLOSED"),
                        {"attribute": "state", "old": "OPEN", "new": "CLOSED", "info": closed}),
        "build_tag": ("build.tag", tag_props("Tag", tagged), tagged),
        "build_untag": ("build.untag", tag_props("Untag", untagged), untagged),
        "package_add": ("package.add", {**pkg_props, "action": "add"}, pkg_add),
        "package_remove": ("package.remove", {**pkg_props, "action": "remove"}, pkg_remove),
        "repo_init": ("repo.init", {"type": "RepoInit", "tag": "f41-build", "repo_id": 310,
                                    "task_id": 90300}, repo_init),
        "repo_done": ("repo.done", {"type": "RepoDone", "tag": "f41-build", "repo_id": 310,
                                    "task_id": 90300, "expire": False}, repo_done),
        "import_build": ("import.build", {"type": "Import", "importType": "build",
                                          "name": "bash", "version": "5.2.26",
                                          "release": "3.fc41"}, imported),
        "sign_rpm": ("sign.rpm", {"type": "RPMSign", "sigkey": "a15b79cc", "name": "bash",
                                  "version": "5.2.26", "release": "3.fc41", "rpm_name": "bash",
                                  "rpm_version": "5.2.26", "rpm_release": "3.fc41",
                                  "rpm_arch": "x86_64"}, sign),
    }


def sections(encoded: bytes) -> dict[int, bytes]:
    """Split proton's encoding of a whole message into its sections' bytes, by descriptor."""
    import proton

    out, pos = {}, 0
    while pos < len(encoded):
        data = proton.Data()
        used = data.decode(encoded[pos:])
        data.rewind()
        data.next()
        data.enter()
        data.next()
        out[data.get_object()] = encoded[pos:pos + used]
        pos += used
    return out


def write_protonmsg() -> None:
    import proton

    folder = HERE / "protonmsg"
    folder.mkdir(exist_ok=True)
    cases = protonmsg_cases()
    # protonmsg sets no message id; other AMQP 1.0 publishers do (and a creation time).
    cases["build_tag_with_id"] = cases["build_tag"]
    for name, (address, props, kws) in cases.items():
        message = proton.Message(properties=props, body=json.dumps(kws))
        if name.endswith("_with_id"):
            message.id = "urn:uuid:0b4bdf1e-9a43-4a51-9d7c-7b1d2d0c6a11"
            message.creation_time = T0 + 1001.5
        parts = sections(message.encode())
        fixture = {
            "routing_key": f"koji.{address}",
            "headers_hex": {"x-amqp-1.0-properties": parts[0x73].hex(),
                            "x-amqp-1.0-app-properties": parts[0x74].hex()},
            "body_hex": parts[0x77].hex(),
        }
        (folder / f"{name}.json").write_text(json.dumps(fixture, indent=1) + "\n")


def epoch_times(info: dict) -> dict:
    """A record as koji-fedoramessaging sends it: ``*_time`` in epoch seconds, no ``*_ts``."""
    out = {k: v for k, v in info.items() if not k.endswith("_ts")}
    out.update(creation_time=int(T0), start_time=int(T0), completion_time=None)
    return out


def fedora_cases() -> dict[str, tuple[str, dict, dict]]:
    """name -> (topic, extra headers, body)."""
    scratch = {"id": 90500, "parent": None, "method": "build", "arch": "noarch", "state": 1,
               "owner": "jiří", "host_id": 4, "host_name": "builder-04.example.test",
               "channel_id": 1, "priority": 50, "label": None, "waiting": None,
               "awaited": None, "create_time": T0, "start_time": T0 + 5.0,
               "completion_time": None, "result": None, "children": [],
               "url": "https://koji.example.test/koji/taskinfo?taskID=90500",
               "request": [SCM, "rawhide", {"scratch": True}]}
    build_body = {"build_id": 1402, "name": "bash", "version": "5.2.26", "release": "3.fc41",
                  "epoch": None, "attribute": "state", "old": 0, "new": 1, "owner": "jiří",
                  "task_id": 90211, "task": None, "request": [SCM, "f41-candidate", {}],
                  "instance": "primary", "creation_time": "2024-05-01T10:05:41+00:00",
                  "completion_time": "2024-05-01T10:22:21+00:00",
                  "url": "https://koji.example.test/koji/buildinfo?buildID=1402"}
    tag_body = {"build_id": 1402, "name": "bash", "version": "5.2.26", "release": "3.fc41",
                "tag_id": 5, "tag": "f41-updates-candidate", "user": "bodhi", "owner": "jiří",
                "instance": "primary"}
    return {
        "build_state_change": ("build.state.change", {}, build_body),
        "task_state_change": ("task.state.change", {}, {
            "id": 90500, "method": "build", "attribute": "state", "old": "FREE",
            "new": "OPEN", "owner": "jiří", "srpm": "bash.git#4e1f0c9d2b7a", "info": scratch,
            "instance": "primary", "base_url": "https://koji.example.test",
            "files_base_url": "https://kojipkgs.example.test/work"}),
        "tag": ("tag", {}, tag_body),
        "untag": ("untag", {}, {**tag_body, "user": "autopen"}),
        "package_list_change": ("package.list.change", {}, {
            "tag": "f41", "package": "bash", "action": "block", "owner": None, "block": True,
            "extra_arches": None, "force": None, "update": None, "instance": "primary",
            "base_url": "https://koji.example.test"}),
        "repo_init": ("repo.init", {}, {"repo_id": 311, "tag": "f41-build", "tag_id": 6,
                                        "instance": "primary"}),
        "repo_done": ("repo.done", {}, {"repo_id": 311, "tag": "f41-build", "tag_id": 6,
                                        "instance": "primary"}),
        "rpm_sign": ("rpm.sign", {}, {"sigkey": "a15b79cc", "sighash": "9f0c5e",
                                      "instance": "primary", "build": epoch_times(BUILD),
                                      "rpm": {"id": 8800, "name": "bash", "arch": "x86_64"}}),
    }


SCHEMAS = {"build.state.change": "build.BuildStateChangeV1",
           "task.state.change": "task.TaskStateChangeV1", "tag": "tag.TagV1",
           "untag": "tag.UntagV1", "package.list.change": "package.ListChangeV1",
           "repo.init": "repo.InitV1", "repo.done": "repo.DoneV1", "rpm.sign": "rpm.SignV1"}


def write_fedora() -> None:
    folder = HERE / "fedora"
    folder.mkdir(exist_ok=True)
    for name, (topic, extra, body) in fedora_cases().items():
        headers = {"fedora_messaging_schema": f"koji_fedoramessaging.{SCHEMAS[topic]}",
                   "fedora_messaging_severity": 10 if "repo" in topic else 20,
                   "sent-at": "2024-05-01T10:22:22+00:00", "priority": 0,
                   "fedora_messaging_rpm_bash": True, **extra}
        fixture = {"routing_key": f"org.fedoraproject.prod.buildsys.{topic}",
                   "message_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"kojibot/{name}")),
                   "headers": headers, "body": body}
        (folder / f"{name}.json").write_text(json.dumps(fixture, indent=1) + "\n")


if __name__ == "__main__":
    write_fedora()
    write_protonmsg()
