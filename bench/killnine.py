"""kill -9 mid-stream, three runs per cell: the installed kojibot relays bus events to a real
IRC channel, is SIGKILLed with lines on their way, and is started again; each run prints the
events lost and the lines shown twice. Cells: {ngircd (receipts by PING/PONG; it reads a
flooding client slowly), inspircd (echo-message; fakelag)} x {line_rate = 1000, default
pacing} x {SQLite, PostgreSQL}. The run itself is tests/killrun.py, as the suite's
tests/peers/test_relay_crash.py runs it once per cell.

    python3 -m bench.killnine            # three runs per cell (about ten minutes)
    python3 -m bench.killnine --quick    # one run of each server's fast cell on SQLite

Baseline, measured before receipts (a row left the outbox once its line was written): ngircd,
line_rate = 1000, SQLite, 1,000 events, two runs: 31 and 34 lost, 0 duplicated.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from bench.relay import use_asyncio_reactor


async def run_cells(reactor, runs: int, workdir: Path, quick: bool) -> int:
    """Every cell *runs* times (*quick*: each server's line_rate = 1000 cell on SQLite);
    how many runs lost an event."""
    from tests import ircd, rabbitmq
    from tests.installed import Installation
    from tests.killrun import BACKENDS, PACINGS, SERVERS, cell, kill_run
    from tests.pgdb import SessionDatabase

    installed = Installation.build(workdir / "installed")
    servers = {"ngircd": ircd.start(ircd.NgIRCd), "inspircd": ircd.start(ircd.InspIRCd)}
    broker = rabbitmq.start()
    database = SessionDatabase().create()
    failures = 0
    try:
        for server in SERVERS:
            for pacing in PACINGS[:1] if quick else PACINGS:
                for backend in BACKENDS[:1] if quick else BACKENDS:
                    port, events, line_rate = cell(servers[server], server, pacing)
                    for run in range(1, runs + 1):
                        if backend == "postgresql":
                            database.empty()
                            state = database.url
                        else:
                            state = str(workdir / f"state-{server}-{pacing}-{run}.sqlite3")
                        result = await kill_run(installed, broker.url, port, state, workdir,
                                                events=events, line_rate=line_rate)
                        failures += bool(result.lost)
                        print(f"{server:8} {pacing:14} {backend:10} run {run}: {result}",
                              flush=True)
    finally:
        database.drop()
        broker.cleanup()
        for server in servers.values():
            ircd.cleanup(server)
    return failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="one run of each server's fast cell on SQLite: checks that it runs")
    args = parser.parse_args()
    use_asyncio_reactor()
    from twisted.internet import defer, task

    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"kojibot kill -9 runs: {os.cpu_count()} CPUs, load average {load} at start")
    workdir = Path(tempfile.mkdtemp(prefix="kojibot-killnine-"))
    failures: list[int] = []

    async def run(reactor) -> None:
        failures.append(await run_cells(reactor, 1 if args.quick else 3, workdir, args.quick))

    try:
        task.react(lambda reactor: defer.Deferred.fromCoroutine(run(reactor)))
    except SystemExit as exit_:
        if exit_.code:
            sys.exit(f"failed (exit {exit_.code})")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if not failures or failures[0]:
        sys.exit(f"{failures[0] if failures else 'some'} run(s) lost events")


if __name__ == "__main__":
    main()
