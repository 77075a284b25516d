"""Oversized bus messages against real peers: the consumer rejects a body over
``[amqp] max_message_bytes`` unread, with one log line, to the dead-letter exchange; and the
installed bot, on the suite's ngircd, RabbitMQ and Koji hub, shows a 1 MB and a 100 kB owner
name as one capped line each, rejects a 10 MB body in one log line, and answers a ``!task``
sent at the same moment as fast as when idle (within 1 s more)."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet import threads

from tests.busmessages import FEDORA_BUILD, fedora_build
from tests.ircuser import IRCUser
from tests.peers.test_amqp_consumer import (  # noqa: F401 - fixtures
    Stub,
    amqp_log,
    broker_counts,
    consumers,
    pause,
    publisher,
    unique,
)
from tests.peers.test_installed_bot import hub_section, irc_section, said
from tests.processes import terminate

_names = itertools.count(1)
MB = 1_000_000
# Publishes the bodies in the files named, in order, saying the size of each once sent: a
# process of its own, so that the test's reactor, which times the answer, shares no GIL with it.
PUBLISHER = """
import sys, pika
url, key, *paths = sys.argv[1:]
connection = pika.BlockingConnection(pika.URLParameters(url))
channel = connection.channel()
for path in paths:
    body = open(path, "rb").read()
    channel.basic_publish("amq.topic", key, body, pika.BasicProperties(delivery_mode=2))
    print(len(body), flush=True)
connection.close()
"""


@pytest_twisted.ensureDeferred
async def test_a_body_over_the_limit_is_rejected_unread_to_the_dead_letter_exchange(
        rabbitmq, consumers, publisher, amqp_log):  # noqa: F811 - fixtures
    dlx, dead = unique("kojibot-dlx"), unique("kojibot-dead")
    pub = publisher()
    pub.channel.exchange_declare(dlx, "fanout")
    pub.channel.queue_declare(dead)
    pub.channel.queue_bind(dead, dlx)
    stub = Stub()
    consumer = await consumers(stub, topics=["koji.#"], dead_letter_exchange=dlx,
                               max_message_bytes=1000)
    big = json.dumps({"id": 2, "pad": "x" * 1000}).encode()
    for body in (b'{"id": 1}', big, json.dumps({"id": 3, "pad": "y" * 980}).encode()):
        pub.send("koji.build.complete", body)
    await stub.wait_for(lambda s: s.ids() == {1, 3}, "the two small messages")

    for _ in range(50):
        method, _, body = pub.channel.basic_get(dead, auto_ack=True)
        if method is not None:
            break
        await pause(0.05)
    assert body == big
    assert await broker_counts(rabbitmq, consumer.settings.queue) == (0, 0)
    assert (consumer.stats.deliveries, consumer.stats.acked, consumer.stats.rejected) == (3, 2, 1)
    assert [line for line in amqp_log if "rejected" in line] == [
        f"warn: rejected a message of {len(big)} bytes on koji.build.complete: over [amqp] "
        "max_message_bytes (1000); not read"]
    pub.channel.queue_delete(dead)
    pub.channel.exchange_delete(dlx)


async def task_latency(user, nick, channel: str, task_id: int) -> float:
    started = time.monotonic()
    user.say(channel, f"!task {task_id}")
    await said(user, nick, rf"Task {task_id} ", timeout=30)
    return time.monotonic() - started


@pytest.fixture
def unthrottled_ngircd():
    """An ngircd of this test without its flood penalty, which holds a client to about 3
    lines a second: the answer's time is then the bot's, not the server's throttle."""
    from tests.ircd import UnthrottledNgIRCd
    from tests.peers.conftest import _ircd

    yield from _ircd(UnthrottledNgIRCd)


@pytest_twisted.ensureDeferred
async def test_oversized_events_make_one_line_each_and_a_command_does_not_wait(
        installed, kojihub, unthrottled_ngircd, rabbitmq, tmp_path):
    ngircd = unthrottled_ngircd
    n = next(_names)
    channel, nick, package = f"#bounded-{n}", f"bounded{n}", f"bigpkg{n}"
    user = await IRCUser.connect(ngircd.port, f"bop{n}")
    await user.join(channel)
    bot = installed.start(
        f"[bot]\nnick = {nick}\nrate = 1000\nstate = {tmp_path}/s.sqlite3\n"
        + hub_section(kojihub) + irc_section(ngircd, channel)
        + f"[amqp]\nurl = {rabbitmq.url}\nqueue = kojibot-bounded-{n}\n", tmp_path)
    try:
        for _ in range(2):  # in either order
            await bot.wait_log(rf"consuming kojibot-bounded-|joined {channel}")
        user.say(channel, f"!subscribe package {package} all")
        assert "Subscribed" in await said(user, nick, package)
        done = kojihub.facts["builds"]["complete"]["task_id"]
        idle = min([await task_latency(user, nick, channel, done) for _ in range(3)])

        events = [(FEDORA_BUILD, fedora_build(870000 + n * 10 + size, package, 1,
                                              owner=letter * size))
                  for letter, size in (("a", 10 * MB), ("b", MB), ("c", 100_000))]
        assert len(events[0][1]) > 10 * MB and len(events[1][1]) < 2 ** 20
        paths = []
        for index, (_, body) in enumerate(events):
            paths.append(tmp_path / f"event{index}.json")
            paths[-1].write_bytes(body)
        seen = len(user.messages())
        publisher = subprocess.Popen([sys.executable, "-c", PUBLISHER, rabbitmq.url,
                                      FEDORA_BUILD, *map(str, paths)],
                                     stdout=subprocess.PIPE, text=True)
        try:  # the 10 MB one is on its way: ask at once
            assert int(await threads.deferToThread(publisher.stdout.readline)) > 10 * MB
            busy = await task_latency(user, nick, channel, done)
            assert await threads.deferToThread(publisher.wait, 60) == 0
        finally:
            terminate(publisher)
            publisher.stdout.close()
        await bot.wait_log(r"rejected a message of \d+ bytes", timeout=30)
        for letter in "bc":
            await said(user, nick, rf"^{package}-1\.0-\S+ COMPLETE \(was BUILDING\) by "
                       rf"{letter}{{20}}", timeout=30)
        await pause(3)  # what else would come of them
        peak = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{bot.pid}/status").read_text())
        print(f"\n!task answered in {busy:.2f} s while the events came, {idle:.2f} s idle; "
              f"the bot's peak resident size {int(peak.group(1)) / 1024:.0f} MB")
        assert busy < idle + 1.0

        said_after = [h for h in user.messages()[seen:] if h.nick == nick
                      and h.command == "PRIVMSG" and not h.text.startswith(f"{user.nick}:")]
        assert len(said_after) <= 4, [h.text[:80] for h in said_after]
        shown = [h for h in said_after if package in h.text]
        assert len(shown) == 2 and all("…" in h.text and h.wire_length <= 512 for h in shown)
        links = [h for h in said_after if h not in shown]
        assert all(re.fullmatch(r"https?://\S+buildinfo\?buildID=\d+", h.text) for h in links)
        rejected = re.findall(r"rejected a message of (\d+) bytes on " + re.escape(FEDORA_BUILD)
                              + r": over \[amqp\] max_message_bytes \(1048576\); not read$",
                              bot.log(), re.M)
        assert rejected == [str(len(events[0][1]))]
    finally:
        await user.quit()
        assert await bot.stop() == 0
    assert "Traceback" not in bot.log()
