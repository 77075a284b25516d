"""The bot against a slow or locked state database, each figure next to the same store's
unlocked run.

    python3 -m bench.statestall [--quick]

For SQLite, PostgreSQL direct and PostgreSQL 50 ms away (tests/dbproxy.py: 25 ms each way):
a kojibot process relays EVENTS bus events (RabbitMQ) into a channel (ngircd without its
flood penalty, pacing 1,000 lines/s) while a user asks ``!task`` of the real Koji hub every
quarter second; once with the database free, once while another session holds a lock for
LOCK seconds from the first event on (PostgreSQL: ``LOCK TABLE outbox IN ACCESS EXCLUSIVE
MODE``, the relay's own table; SQLite: ``BEGIN IMMEDIATE``, its write lock). Printed: relay
events/s (events ÷ seconds from the first publish to the last line seen) and the ``!task``
answer time p50/p99 (during the lock, for the locked run), and whether the bot kept the
lead. Peers are started here and stopped after. ``--quick``: 40 events, a 3 s lock.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.relay import blocking, start_logging, use_asyncio_reactor
from bench.relaychat import percentile

EVENTS, LOCK = 200, 20.0
QUICK_EVENTS, QUICK_LOCK = 40, 3.0
ASK_EVERY = 0.25  # seconds between !task questions
MIN_ASKS = 20  # questions a free run asks at least (a locked run asks during its lock)
FAR = 0.025  # seconds the proxy adds in each direction
NVR = re.compile(r"benchpkg-1\.0-(\d+)\.fc41")


def bot_config(state: str, hub, irc_port: int, amqp_url: str, name: str) -> str:
    return (f"[bot]\nnick = {name}\nstate = {state}\nlease_seconds = 6\nrate = 100000\n"
            "digest_after = 100000\nplugins = task help\n"
            f"[koji]\nserver = {hub.url}\nweburl = {hub.weburl}\n"
            f"[irc]\nhost = 127.0.0.1\nport = {irc_port}\ntls = no\nchannels = #{name}\n"
            "line_rate = 1000\nburst = 100\n"
            f"[amqp]\nurl = {amqp_url}\nqueue = kojibot-{name}\nprefetch = 100\n")


class Locked:
    """Another session's lock on the state, held from ``take()`` until ``release()``."""

    def __init__(self, state: str):
        self.state = state
        self.session = None

    def take(self) -> None:
        if self.state.startswith("postgresql://"):
            import psycopg

            self.session = psycopg.connect(self.state)
            self.session.execute("LOCK TABLE outbox IN ACCESS EXCLUSIVE MODE")
        else:
            self.session = sqlite3.connect(self.state, isolation_level=None,
                                           check_same_thread=False)
            self.session.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        if self.state.startswith("postgresql://"):
            self.session.commit()
        else:
            self.session.execute("COMMIT")
        self.session.close()


async def phase(reactor, bot_nick: str, user, channel: str, broker_url: str, first_id: int,
                events: int, task_id: int, lock: Locked | None, seconds: float) -> dict:
    """Relay *events* while asking !task; with *lock*, held *seconds* from the start."""
    from twisted.internet import task, threads

    from kojibot.chat.render import strip_irc_formatting
    from tests.busmessages import FEDORA_BUILD, fedora_build, lines_from, publish

    ids = set(range(first_id, first_id + events))
    batch = [(FEDORA_BUILD, fedora_build(n, "benchpkg", 1)) for n in ids]
    if lock is not None:
        await blocking(lock.take)
    start = time.monotonic()
    released = [lock is None]

    def release() -> None:
        lock.release()
        released[0] = True

    if lock is not None:
        reactor.callLater(seconds, threads.deferToThread, release)
    publishing = threading.Thread(target=publish, args=(broker_url, batch))
    publishing.start()
    answers = []
    answer = re.compile(rf"Task {task_id} ")
    deadline = start + 120 + seconds
    relayed_at = None
    while True:
        total = len(ids & {int(found.group(1)) for found in map(NVR.search, lines_from(
            user, bot_nick)) if found})
        if total >= events and relayed_at is None:
            relayed_at = time.monotonic()
        if relayed_at is not None and released[0] and (lock is not None or
                                                      len(answers) >= MIN_ASKS):
            break
        if time.monotonic() > deadline:
            break
        asked_at = time.monotonic()
        user.say(channel, f"!task {task_id}")
        try:
            await user.wait_for(lambda h: h.nick == bot_nick and answer.search(
                strip_irc_formatting(h.text)), timeout=10)
            took = time.monotonic() - asked_at
        except AssertionError:
            took = 10.0
        if lock is None or asked_at - start < seconds:
            answers.append(took * 1000)
        await task.deferLater(reactor, max(0.0, ASK_EVERY - took), lambda: None)
    relayed_at = relayed_at or time.monotonic()
    await blocking(publishing.join)
    answers.sort()
    return {"rate": total / (relayed_at - start), "relayed": total, "events": events,
            "p50": percentile(answers, 0.5) if answers else float("nan"),
            "p99": percentile(answers, 0.99) if answers else float("nan"),
            "asks": len(answers)}


async def one_store(reactor, name: str, state: str, lock_at: str, peers, workdir: Path,
                    events: int, seconds: float, first_id: int) -> dict:
    """Both runs (free, locked) on one kojibot process with *state* (*lock_at*: the same
    database, as the locking session reaches it)."""
    from twisted.internet import task

    from tests.ircuser import IRCUser
    from tests.statedb import tables

    hub, server, broker = peers
    from kojibot.state.store import Subscription

    channel = f"#{name}"
    seeding = tables(lock_at)  # direct: a proxy would wait on this very thread
    seeding.subscribe(Subscription("irc", channel, "package", "benchpkg",
                                   frozenset({"complete"})))
    seeding.db.close()
    home = workdir / name
    home.mkdir()
    (home / "bot.ini").write_text(bot_config(state, hub, server.port, broker.url, name))
    log = open(home / "kojibot.log", "w+b")
    process = subprocess.Popen([sys.executable, "-m", "kojibot", "--config",
                                str(home / "bot.ini"), "--log-level", "info"],
                               stdout=log, stderr=subprocess.STDOUT, cwd=home)
    user = await IRCUser.connect(server.port, f"asker{name}"[:30])
    try:
        await user.join(channel)
        await user.wait_line(lambda h: h.command == "JOIN" and h.nick == name, timeout=60)
        while b"consuming kojibot-" not in (home / "kojibot.log").read_bytes():
            await task.deferLater(reactor, 0.1, lambda: None)  # the queue is bound
        task_id = hub.facts["builds"]["complete"]["task_id"]
        free = await phase(reactor, name, user, channel, broker.url, first_id, events,
                           task_id, None, seconds)
        locked = await phase(reactor, name, user, channel, broker.url, first_id + events,
                             events, task_id, Locked(lock_at), seconds)
        said = (home / "kojibot.log").read_text(errors="replace")
        kept = process.poll() is None and "lost the lead" not in said
        if free["relayed"] < events or locked["relayed"] < events:
            print(f"{name}: not every event relayed; its log ends:\n"
                  + "\n".join(said.splitlines()[-20:]), file=sys.stderr)
        return {"free": free, "locked": locked, "kept": kept}
    finally:
        await user.quit()
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            try:
                await blocking(process.wait, 15)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
        log.close()


async def measure(reactor, quick: bool, chosen: list[str]) -> None:
    from tests import ircd
    from tests import rabbitmq as node
    from tests.dbproxy import DelayProxy
    from tests.kojihub import KojiHub
    from tests.pgdb import SessionDatabase

    events, seconds = (QUICK_EVENTS, QUICK_LOCK) if quick else (EVENTS, LOCK)
    workdir = Path(tempfile.mkdtemp(prefix="kojibot-bench-stall-"))
    hub = KojiHub()
    cleanups = []
    try:
        await blocking(hub.start)
        cleanups.append(hub.stop)
        broker = await blocking(node.start)
        cleanups.append(broker.cleanup)
        server = await blocking(ircd.start, ircd.UnthrottledNgIRCd)
        cleanups.append(lambda: ircd.cleanup(server))
        direct, far = SessionDatabase().create(), SessionDatabase().create()
        cleanups += [direct.drop, far.drop]
        proxy = DelayProxy("127.0.0.1", 5432, delay=FAR)
        far_url = far.url.replace(":5432/", f":{await proxy.start()}/")
        sqlite = str(workdir / "state.sqlite3")
        stores = (("sqlite", sqlite, sqlite), ("postgresql", direct.url, direct.url),
                  ("postgresql50ms", far_url, far.url))
        results = {}
        for number, (name, state, lock_at) in enumerate(stores):
            if name not in chosen:
                continue
            results[name] = await one_store(reactor, f"st{name}", state, lock_at,
                                            (hub, server, broker), workdir, events, seconds,
                                            400000 + number * 10 * events)
        await proxy.stop()
    finally:
        for cleanup in reversed(cleanups):
            await blocking(cleanup)
        shutil.rmtree(workdir, ignore_errors=True)
    report(results, events, seconds)


def report(results: dict, events: int, seconds: float) -> None:
    print(f"state stall: {events} bus events relayed while !task is asked every "
          f"{ASK_EVERY} s; locked: a {seconds:g} s lock from the first event")
    baseline = next(iter(results.values()))["free"]["rate"]
    for name, result in results.items():
        free, locked = result["free"], result["locked"]
        print(f"  {name:15s} free  : {free['rate']:7.1f} events/s ({free['relayed']}/"
              f"{events}; {free['rate'] / baseline:.2f}x the first store's)  !task p50 "
              f"{free['p50']:6.0f} ms p99 {free['p99']:6.0f} ms ({free['asks']} asks)")
        print(f"  {name:15s} locked: {locked['rate']:7.1f} events/s ({locked['relayed']}/"
              f"{events}; {locked['rate'] / free['rate']:.2f}x its free run)  !task p50 "
              f"{locked['p50']:6.0f} ms p99 {locked['p99']:6.0f} ms ({locked['asks']} asks "
              f"during the lock; p50 {locked['p50'] / free['p50']:.2f}x free)  "
              f"lead kept: {'yes' if result['kept'] else 'NO'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few events, a short lock")
    parser.add_argument("--stores", default="sqlite,postgresql,postgresql50ms",
                        help="which stores to run (the first is the baseline of the ratios)")
    args = parser.parse_args()
    use_asyncio_reactor()
    start_logging()
    from twisted.internet import defer, task

    chosen = args.stores.split(",")
    task.react(lambda reactor: defer.Deferred.fromCoroutine(measure(reactor, args.quick,
                                                                    chosen)))


if __name__ == "__main__":
    main()
