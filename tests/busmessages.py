"""Helpers for relay tests: Fedora-shaped bus messages, publishing, counting lines."""

import json
import re

import pika

from kojibot.chat.render import strip_irc_formatting

FEDORA_BUILD = "org.fedoraproject.prod.buildsys.build.state.change"
FEDORA_TASK = "org.fedoraproject.prod.buildsys.task.state.change"
TIME_FIELDS = ("create", "start", "completion")


def fedora_build(build_id, name, new, owner="alice", release=None, old=0, task_id=None,
                 instance="primary", base_url=None):
    """A koji-fedoramessaging build.state.change body (new/old are state numbers)."""
    body = {
        "build_id": build_id, "name": name, "version": "1.0",
        "release": release or f"{build_id}.fc41", "epoch": None, "owner": owner, "old": old,
        "new": new, "attribute": "state", "task_id": task_id, "instance": instance,
        "request": None, "creation_time": "2026-01-05T10:00:00+00:00",
        "completion_time": None if new == 0 else "2026-01-05T10:25:10+00:00"}
    if base_url:
        body.update(base_url=base_url, url=f"{base_url}/koji/buildinfo?buildID={build_id}")
    return json.dumps(body).encode()


def fedora_task(info, old, new, owner, base_url, instance="primary"):
    """A koji-fedoramessaging task.state.change body for the hub's task record ``info``
    (getTaskInfo with its request): times as epoch seconds, states as names."""
    record = {key: value for key, value in info.items() if not key.endswith("_ts")}
    for name in TIME_FIELDS:
        stamp = info.get(f"{name}_ts")
        record[f"{name}_time"] = int(stamp) if stamp is not None else None
    return json.dumps({
        "id": info["id"], "method": info["method"], "attribute": "state", "old": old,
        "new": new, "owner": owner, "info": record, "instance": instance,
        "base_url": base_url}).encode()


def publish(url, messages):
    """Publish (routing key, body) pairs persistently with pika; blocking, run in a thread."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    for routing_key, body in messages:
        channel.basic_publish("amq.topic", routing_key, body,
                              pika.BasicProperties(delivery_mode=2,
                                                   content_type="application/json"))
    connection.close()


def lines_from(user, nick):
    return [strip_irc_formatting(h.text) for h in user.messages() if h.nick == nick]


def count_events(lines, package):
    """Build events of ``package`` shown, counting single lines (they start with its NVR)
    and digests ("N builds completed: NVR, ..."); also the NVRs of the single lines."""
    total, names = 0, []
    for line in lines:
        digest = re.match(r"(\d+) builds \w+: (.*)", line)
        if digest and digest.group(2).startswith(f"{package}-"):
            total += int(digest.group(1))
        elif line.startswith(f"{package}-"):
            total += 1
            names.append(line.split()[0])
    return total, names


async def until(probe, timeout):
    """Wait (without blocking the reactor) until probe() is true."""
    from twisted.internet import reactor, task

    deadline = reactor.seconds() + timeout
    while not probe():
        assert reactor.seconds() < deadline, f"not true within {timeout} s"
        await task.deferLater(reactor, 0.25, lambda: None)
