"""kojibot at the size a large community runs it, each figure beside a baseline of the same run.

    python3 -m bench.scale [--quick] [--parts a,b,c] [--rows 100000]

(a) matching, in process: 10,000 subscriptions over 100 rooms (package names, owners, tags
    and globs), the three lookups the relay makes per event (package, owner, tag): µs per
    event (goal ≤ 50 µs), beside three plain dict lookups per event;
(b) the installed ``kojibot`` process with that state plus 1,000 watches, on the local Koji
    hub fixture and a local ngircd, all 100 rooms joined: seconds from exec to signed on
    (goal ≤ 1 s) and to /healthz 200, resident memory once every room is joined and the
    watches were polled (goal ≤ 80 MB); beside the same bot with an empty state;
(c) the outbox at 100,000 queued rows over the 100 rooms, default digest settings, IRC
    pacing 200 lines/s: time to drain against what the pacing and the digest window allow,
    drain rate, and resident memory sampled while draining (goal: no growth).
The peers are the test suite's fixture modules, started here and stopped after.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kojibot.relay.matching import SubscriptionIndex
from kojibot.state.backends import SQLite
from kojibot.state.store import OutboxEntry, Store, Subscription, Tables, WatchRecord
from kojibot.wording.eventnames import DEFAULT_EVENTS
from tests.installed import healthz

ROOMS, SUBSCRIPTIONS, WATCHES = 100, 10_000, 1_000
LINE_RATE, BURST = 200, 20
COALESCE, WINDOW = 5, 10.0  # the default [bot] digest_after and digest_window
KOJIBOT = Path(sys.executable).parent / "kojibot"  # the installed one, next to this Python


def subscriptions() -> list[Subscription]:
    """10,000 over 100 rooms: 9,000 packages, 500 owners, 400 tags, 100 package globs."""
    kinds = ([("package", f"pkg{n}") for n in range(9000)]
             + [("owner", f"user{n}") for n in range(500)]
             + [("tag", f"f{n}-updates") for n in range(400)]
             + [("package", f"lib{n}-*") for n in range(100)])
    return [Subscription("irc", f"#room{n % ROOMS}", kind, pattern, DEFAULT_EVENTS)
            for n, (kind, pattern) in enumerate(kinds)]


def events(count: int, seed: int = 11) -> list[tuple[str, str, str]]:
    """(package, owner, tag) of random events; about half the packages have a subscriber."""
    rng = random.Random(seed)
    return [(rng.choice((f"pkg{rng.randrange(18000)}", f"lib{rng.randrange(200)}-devel")),
             f"user{rng.randrange(1000)}", f"f{rng.randrange(800)}-updates")
            for _ in range(count)]


def part_a(count: int = 100_000) -> None:
    index = SubscriptionIndex(subscriptions())
    sample = events(count)
    plain = {(sub.kind, sub.pattern): sub for sub in subscriptions()}
    start = time.perf_counter()
    for package, owner, tag in sample:
        plain.get(("package", package)), plain.get(("owner", owner)), plain.get(("tag", tag))
    baseline = (time.perf_counter() - start) / count * 1e6
    matched = 0
    start = time.perf_counter()
    for package, owner, tag in sample:
        matched += len(index.match("package", package, "complete"))
        matched += len(index.match("owner", owner, "complete"))
        matched += len(index.match("tag", tag, "complete"))
    per_event = (time.perf_counter() - start) / count * 1e6
    print(f"(a) match, {len(index)} subscriptions over {ROOMS} rooms, {count} events: "
          f"{per_event:.2f} µs/event (goal ≤ 50: {'met' if per_event <= 50 else 'MISSED'}); "
          f"3 dict lookups {baseline:.2f} µs/event ({per_event / baseline:.1f}x); "
          f"{matched / count:.2f} matches/event")


# (b) and (c): the bot as its own process -------------------------------------------------

def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of *pid* so far: steadier than wall time on a busy machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class BotRun:
    """The installed kojibot on a state file and ini of its own; its log in a file."""

    def __init__(self, workdir: Path, hub_url: str, irc_port: int, nick: str):
        from tests.ircd import free_port

        self.dir, self.port = workdir, free_port()
        workdir.mkdir(parents=True)
        self.state = workdir / "state.sqlite3"
        channels = " ".join(f"#room{n}" for n in range(ROOMS))
        (workdir / "bot.ini").write_text(
            f"[bot]\nnick = {nick}\n"
            f"state = {self.state}\n[koji]\nserver = {hub_url}\n"
            f"[irc]\nhost = 127.0.0.1\nport = {irc_port}\ntls = no\nchannels = {channels}\n"
            f"line_rate = {LINE_RATE}\nburst = {BURST}\n"
            f"[metrics]\nlisten = 127.0.0.1:{self.port}\n")

    def start(self) -> float:
        self.log = (self.dir / "kojibot.log").open("w+")
        env = dict(os.environ, HOME=str(self.dir), PYTHONUNBUFFERED="1")
        self.started = time.monotonic()
        self.process = subprocess.Popen([str(KOJIBOT), "--config", str(self.dir / "bot.ini")],
                                        stdout=self.log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, env=env)
        return self.started

    def wait(self, probe, timeout: float = 60, step: float = 0.005) -> float:
        """Seconds from exec until probe() held."""
        deadline = time.monotonic() + timeout
        while not probe():
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = (self.dir / "kojibot.log").read_text()[-800:]
                raise RuntimeError(f"kojibot gave up or timed out; log ends:\n{tail}")
            time.sleep(step)
        return time.monotonic() - self.started

    def logged(self, text: str) -> bool:
        return text in (self.dir / "kojibot.log").read_text()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)
        self.log.close()


def seed(state: Path, task_id: int | None, rows: int = 0) -> None:
    Store(str(state)).close()
    store = Tables(SQLite(str(state)))
    for sub in subscriptions() if task_id is not None else []:
        store.subscribe(sub)
    for n in range(WATCHES if task_id is not None else 0):
        store.add_watch(WatchRecord("irc", f"user{n}", f"user{n}", None, "task", task_id,
                                    f"task {task_id}", {task_id: [None, 1]}))
    for start in range(0, rows, 10_000):
        store.record_events([(f"bench-{n}", [OutboxEntry(
            "irc", f"#room{n % ROOMS}", False, f"builds completed\tpkg{n}-1.0-1.fc41",
            [f"pkg{n}-1.0-1.fc41 COMPLETE"])]) for n in range(start, start + 10_000)])
    store.db.close()


def start_up(run: BotRun) -> tuple[float, float, float, float, float]:
    """Seconds to signed on (wall, then CPU), to /healthz 200, to the last room joined;
    then RSS in MB."""
    run.start()
    try:
        signed = run.wait(lambda: run.logged("signed on to"))
        cpu = cpu_seconds(run.process.pid)
        ready = run.wait(lambda: healthz(run.port) == 200)
        joined = run.wait(lambda: run.logged(f"joined #room{ROOMS - 1}\n"), 120, 0.05)
        time.sleep(3)  # the watch poll and anything else start-up set off
        return signed, cpu, ready, joined, rss_mb(run.process.pid)
    finally:
        run.stop()


def part_b(hub, irc_port: int, workdir: Path) -> None:
    task_id = hub.facts["builds"]["building"]["task_id"]
    figures = {}
    for name, seeded in (("empty state", None), ("10,000 subs + 1,000 watches", task_id)):
        nick = "scaleempty" if seeded is None else "scalefull"
        run = BotRun(workdir / nick, hub.url, irc_port, nick)
        seed(run.state, seeded)
        figures[name] = start_up(run)
    (base_signed, base_cpu, _, _, base_rss) = figures["empty state"]
    for name, (signed, cpu, ready, joined, rss) in figures.items():
        print(f"(b) {name}: signed on {signed:.2f} s ({cpu:.2f} s CPU), /healthz 200 "
              f"{ready:.2f} s, {ROOMS} rooms joined {joined:.2f} s, RSS {rss:.1f} MB")
    signed, cpu, _, _, rss = figures["10,000 subs + 1,000 watches"]
    print(f"    start-up to signed on {signed:.2f} s, {cpu:.2f} s CPU (goal ≤ 1: "
          f"{'met' if signed <= 1 else 'MISSED'}; {signed / base_signed:.2f}x empty, CPU "
          f"{cpu / base_cpu:.2f}x); "
          f"RSS {rss:.1f} MB (goal ≤ 80: {'met' if rss <= 80 else 'MISSED'}; "
          f"+{rss - base_rss:.1f} MB over empty)")


def outbox_rows(state: Path) -> int:
    import sqlite3

    db = sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=10)
    try:
        return db.execute("SELECT count(*) FROM outbox").fetchone()[0]
    finally:
        db.close()


def part_c(hub, irc_port: int, workdir: Path, rows: int) -> None:
    run = BotRun(workdir / "outbox", hub.url, irc_port, "scaleoutbox")
    started = time.monotonic()
    seed(run.state, None, rows)
    print(f"(c) {rows} rows queued over {ROOMS} rooms in {time.monotonic() - started:.1f} s")
    run.start()
    samples: list[tuple[float, int, float]] = []
    try:
        run.wait(lambda: run.logged(f"joined #room{ROOMS - 1}\n"), 120, 0.05)
        joined = time.monotonic() - run.started
        while True:
            left = outbox_rows(run.state)
            samples.append((time.monotonic() - run.started, left, rss_mb(run.process.pid)))
            if left == 0 or samples[-1][0] > 900:
                break
            time.sleep(0.5)
    finally:
        run.stop()
    took = samples[-1][0] - joined
    # Per room, 5 single lines open its 10 s digest window and its digest closes it. The
    # 500 singles go out at the pacing rate, so the last room's window opens that much later;
    # its digest is the last line.
    bound = (ROOMS * COALESCE - BURST) / LINE_RATE + WINDOW + 1 / LINE_RATE
    rss = [mb for _, _, mb in samples]
    print(f"    drained {rows - samples[-1][1]} rows in {took:.1f} s after the last join "
          f"({(rows - samples[-1][1]) / took:.0f} rows/s); pacing and digest window allow "
          f"{bound:.1f} s ({took / bound:.2f}x)")
    print(f"    RSS while draining: first {rss[0]:.1f} MB, max {max(rss):.1f} MB, "
          f"last {rss[-1]:.1f} MB ({len(rss)} samples)")
    marks = " ".join(f"{at:.0f}s:{left}" for at, left, _ in samples[::4])
    print(f"    rows left, by seconds since exec (last room joined at {joined:.1f} s): {marks}")


def with_peers(parts: list[str], rows: int) -> None:
    from bench.relaychat import ircd_kinds
    from tests import ircd
    from tests.kojihub import KojiHub

    unthrottled, _ = ircd_kinds()

    class RoomyNgIRCd(unthrottled):
        """No flood penalty, no limit on channels per user (ngircd's default is 10)."""

        def __init__(self, workdir: Path):
            super().__init__(workdir)
            text = self.config.read_text()
            self.config.write_text(text.replace("[Limits]\n", "[Limits]\nMaxJoins = 0\n"))

    workdir = Path(tempfile.mkdtemp(prefix="kojibot-scale-"))
    hub = KojiHub()
    hub.start()
    try:
        server = ircd.start(RoomyNgIRCd)
        try:
            if "b" in parts:
                part_b(hub, server.port, workdir)
            if "c" in parts:
                part_c(hub, server.port, workdir, rows)
        finally:
            ircd.cleanup(server)
    finally:
        hub.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="a,b,c", help="which of a,b,c to run")
    parser.add_argument("--rows", type=int, help="outbox rows for (c) (default 100,000; "
                        "5,000 with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="fewer events and rows: checks that it runs, figures are rough")
    args = parser.parse_args()
    parts = args.parts.split(",")
    args.rows = args.rows or (5_000 if args.quick else 100_000)
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"kojibot scale benchmark: {os.cpu_count()} CPUs, load average {load} at start")
    if "a" in parts:
        part_a(10_000 if args.quick else 100_000)
    if "b" in parts or "c" in parts:
        with_peers(parts, args.rows)


if __name__ == "__main__":
    main()
