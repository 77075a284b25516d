"""The bot SIGKILLed while relaying 1,000 events, then started again: every matching event
reaches the channel exactly once. Real RabbitMQ node, real ngircd, and the bot as a process:
the ``kojibot`` installed from the wheel (tests/installed.py)."""

import threading
import time

import pika
import pytest_twisted
from twisted.internet import threads

from kojibot.state.store import Subscription
from tests.busmessages import FEDORA_BUILD, count_events, fedora_build, lines_from, until
from tests.ircuser import IRCUser
from tests.statedb import tables


def paced_publish(url, messages, seconds):
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    pause = seconds / len(messages)
    for routing_key, body in messages:
        channel.basic_publish("amq.topic", routing_key, body,
                              pika.BasicProperties(delivery_mode=2))
        time.sleep(pause)
    connection.close()


@pytest_twisted.ensureDeferred
async def test_sigkill_mid_stream_then_restart_delivers_each_event_once(installed, rabbitmq,
                                                                        ngircd, tmp_path):
    channel, nick = "#crash", "crashbot"
    state = tmp_path / "state.sqlite3"
    seeding = tables(str(state))
    seeding.subscribe(Subscription("irc", channel, "package", "crashpkg", frozenset({"complete"})))
    seeding.db.close()
    config = (
        f"[bot]\nnick = {nick}\nstate = {state}\ndigest_after = 5\ndigest_window = 2\n"
        "[koji]\nserver = http://127.0.0.1:9/kojihub\nweburl = https://koji.example.test/koji\n"
        f"[irc]\nhost = 127.0.0.1\nport = {ngircd.port}\ntls = no\nchannels = {channel}\n"
        "line_rate = 5\n"
        f"[amqp]\nurl = {rabbitmq.url}\nqueue = kojibot-crash\n")
    home = tmp_path / "home"
    watcher = await IRCUser.connect(ngircd.port, "crashwatch")
    await watcher.join(channel)
    bot = installed.start(config, home, "--log-level", "warn")
    try:
        await watcher.wait_line(lambda h: h.command == "JOIN" and h.nick == nick, timeout=30)
        events = []
        for n in range(1000):
            name = "crashpkg" if n % 2 == 0 else "otherpkg"
            events.append((FEDORA_BUILD, fedora_build(950000 + n, name, 1)))
        publishing = threading.Thread(target=paced_publish, args=(rabbitmq.url, events, 4.0))
        publishing.start()
        await until(lambda: _relayed(state) > 50, timeout=30)
        bot.kill()  # SIGKILL, mid-stream
        killed_at = _relayed(state)
        await threads.deferToThread(publishing.join)
        assert killed_at < 500, "the kill came after the stream ended: nothing was tested"

        bot = installed.start(config, home, "--log-level", "warn")
        await until(lambda: count_events(lines_from(watcher, nick), "crashpkg")[0] >= 500,
                    timeout=120)
        total, names = count_events(lines_from(watcher, nick), "crashpkg")
        assert total == 500, f"{total} crashpkg events shown, killed after {killed_at}"
        assert len(names) == len(set(names))
        assert not [x for x in lines_from(watcher, nick) if "otherpkg" in x]
    finally:
        await bot.stop()
        await watcher.quit()


def _relayed(state):
    """Events the bot has committed so far (read from its SQLite file)."""
    import sqlite3

    db = sqlite3.connect(f"file:{state}?mode=ro", uri=True)
    try:
        return db.execute("SELECT count(*) FROM relayed_event").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()
