"""One ``kill -9`` run: the installed kojibot relays bus events to a real IRC channel, is
SIGKILLed while lines are on their way, and is started again. Which events reached the
channel, and how many twice? Used by tests/peers/test_relay_crash.py and bench/killnine.py.

    result = await kill_run(installed, rabbitmq.url, port, state, workdir, events=200,
                            line_rate=1000)
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pika
from twisted.internet import threads

from kojibot.chat.render import strip_irc_formatting
from kojibot.state.store import Subscription
from tests.busmessages import FEDORA_BUILD, count_events, fedora_build, publish, until
from tests.ircuser import IRCUser
from tests.statedb import tables

FAST = "line_rate=1000"
PACINGS = (FAST, "default")
SERVERS = ("ngircd", "inspircd")
BACKENDS = ("sqlite", "postgresql")
NICK = "kbcrash"  # seven letters: the alternates a restart may need keep it as a prefix
_runs = itertools.count(1)


@dataclass
class KillResult:
    events: int
    killed_after: int  # distinct events shown when the bot was killed
    lost: list[str]  # NVRs never shown
    duplicates: int  # lines shown beyond one per event
    seconds: float  # from the first publish to the last event shown

    def __str__(self) -> str:
        return (f"{self.events} events, killed after {self.killed_after}: "
                f"{len(self.lost)} lost, {self.duplicates} duplicated, {self.seconds:.1f} s")


def cell(ircd, server: str, pacing: str) -> tuple[int, int, float | None]:
    """Port, events and line rate of one cell. ngircd reads a flooding client at ~3 lines/s;
    inspircd's fast class holds it to 20 lines/s by fakelag; default pacing is 1 line/s."""
    if pacing != FAST:
        return ircd.port, 20, None
    if server == "inspircd":
        return ircd.fast_port, 200, 1000
    return ircd.port, 60, 1000


def _config(state: str, port: int, channel: str, queue: str, broker: str,
            line_rate: float | None) -> str:
    rate = f"line_rate = {line_rate}\n" if line_rate else ""
    return (f"[bot]\nnick = {NICK}\nstate = {state}\ndigest_after = 100000\n"
            "[koji]\nserver = http://127.0.0.1:9/kojihub\nweburl = https://koji.example.test/koji\n"
            f"[irc]\nhost = 127.0.0.1\nport = {port}\ntls = no\nchannels = {channel}\n{rate}"
            f"[amqp]\nurl = {broker}\nqueue = {queue}\n")


def _waiting_rows(state: str) -> int:
    """Rows left in the bot's outbox (read behind its back)."""
    if state.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(state, autocommit=True) as db:
            return db.execute("SELECT count(*) FROM outbox").fetchone()[0]
    db = sqlite3.connect(f"file:{state}?mode=ro", uri=True)
    try:
        return db.execute("SELECT count(*) FROM outbox").fetchone()[0]
    finally:
        db.close()


def _delete_queue(url: str, queue: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    connection.channel().queue_delete(queue)
    connection.close()


async def kill_run(installed, broker: str, port: int, state: str, workdir: Path, *,
                   events: int, line_rate: float | None = None,
                   timeout: float = 120) -> KillResult:
    """*state*: an SQLite path or a PostgreSQL URL, empty. The bot is killed once a quarter
    of the events were shown, so the rest of a backlog is on its way."""
    run = f"{os.getpid()}x{next(_runs)}"
    channel, queue = f"#crash{run}", f"kojibot-crash-{run}"
    seeding = tables(state)
    seeding.subscribe(Subscription("irc", channel, "package", "crashpkg", frozenset({"complete"})))
    seeding.db.close()
    config = _config(state, port, channel, queue, broker, line_rate)
    home = workdir / f"home{run}"
    watcher = await IRCUser.connect(port, f"watch{run}"[:16])
    await watcher.join(channel)
    bot = installed.start(config, home, "--log-level", "info")
    try:
        await bot.wait_log(r"consuming kojibot-crash", timeout=60)
        await watcher.wait_line(lambda h: h.command == "JOIN" and h.nick.startswith(NICK),
                                timeout=60)
        nvrs = [f"crashpkg-1.0-{950000 + n}.fc41" for n in range(events)]
        messages = [(FEDORA_BUILD, fedora_build(950000 + n, "crashpkg", 1))
                    for n in range(events)]
        started = time.monotonic()
        await threads.deferToThread(publish, broker, messages)

        def shown() -> list[str]:
            total, names = count_events(lines_from_bot(watcher), "crashpkg")
            assert total == len(names), "a digest line: every event should have its own"
            return names

        await until(lambda: len(set(shown())) >= events // 4, timeout=timeout)
        bot.kill()
        killed_after = len(set(shown()))
        bot = installed.start(config, home, "--log-level", "info")
        try:
            await until(lambda: (set(nvrs) <= set(shown()) and _waiting_rows(state) == 0)
                        or bot.process.poll() is not None, timeout=timeout)
        except AssertionError:  # not all shown in time: the result says which are missing
            pass
        seconds = time.monotonic() - started
        names = shown()
        counts = Counter(names)
        return KillResult(events, killed_after, [nvr for nvr in nvrs if nvr not in counts],
                          sum(count - 1 for count in counts.values()), seconds)
    finally:
        await bot.stop()
        await watcher.quit()
        await threads.deferToThread(_delete_queue, broker, queue)


def lines_from_bot(watcher: IRCUser) -> list[str]:
    """The bot's lines under any of the nicks it may have taken."""
    return [strip_irc_formatting(h.text) for h in watcher.messages()
            if h.nick.startswith(NICK) and h.command == "PRIVMSG"]
