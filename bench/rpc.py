"""txkoji against koji's own ClientSession and the hub's parallel ceiling, in one run.

    python3 -m bench.rpc [--quick] [--url HUB_URL] [--seconds 3] [--shapes]

Without --url it starts the test suite's seeded hub (tests.kojihub) and stops it after;
--shapes also measures the same hub under wsgiref, apache2 + mod_wsgi and nginx in front
(tests/hubservers.py). Runs under the asyncio reactor, as the kojibot CLI does.
Prints calls/s for: koji.ClientSession sequential (the baseline), txkoji sequential,
N plain xmlrpc.client threads (the hub's ceiling), txkoji with 8 calls in flight, and
one MultiCall of 100 — with ratios against the baseline and the ceiling, and how many
txkoji calls failed (there should be none).
"""

from __future__ import annotations

import argparse
import threading
import time
import xmlrpc.client

from twisted.internet import asyncioreactor, defer, task

import txkoji


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds else float("inf")


def clientsession_sequential(url: str, task_id: int, seconds: float) -> float:
    import koji  # koji's own client library, the baseline

    session = koji.ClientSession(url)
    session.getTaskInfo(task_id, request=True)  # warm the connection
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        session.getTaskInfo(task_id, request=True)
        count += 1
    return rate(count, time.perf_counter() - start)


def threads_ceiling(url: str, task_id: int, seconds: float, threads: int) -> float:
    counts = [0] * threads
    deadline = time.perf_counter() + seconds

    def worker(slot: int) -> None:
        proxy = xmlrpc.client.ServerProxy(url, allow_none=True)
        while time.perf_counter() < deadline:
            proxy.getTaskInfo(task_id, True)
            counts[slot] += 1

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    start = time.perf_counter()
    for worker_thread in workers:
        worker_thread.start()
    for worker_thread in workers:
        worker_thread.join()
    return rate(sum(counts), time.perf_counter() - start)


async def txkoji_rates(reactor, url: str, task_id: int, seconds: float) -> dict[str, float]:
    koji = txkoji.Connection(server=url, reactor=reactor)
    await koji.getTaskInfo(task_id)
    failed = [0]

    async def one() -> None:
        try:
            await koji.getTaskInfo(task_id)
        except txkoji.KojiTransportError:
            failed[0] += 1

    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        await one()
        count += 1
    sequential = rate(count, time.perf_counter() - start)

    done = [0]
    deadline = time.perf_counter() + seconds

    async def lane() -> None:
        while time.perf_counter() < deadline:
            await one()
            done[0] += 1

    start = time.perf_counter()
    await defer.gatherResults([defer.Deferred.fromCoroutine(lane()) for _ in range(8)])
    concurrent = rate(done[0], time.perf_counter() - start)

    multicall = koji.MultiCall()
    for _ in range(100):
        multicall.getTaskInfo(task_id)
    start = time.perf_counter()
    results = await multicall()
    multicall_seconds = time.perf_counter() - start
    assert len(list(results)) == 100
    await koji.close()
    return {"sequential": sequential, "concurrent8": concurrent,
            "multicall100_ms": multicall_seconds * 1000, "failed": failed[0],
            "calls": count + done[0]}


def measure_txkoji(targets: list[tuple[str, str]], task_id: int,
                   seconds: float) -> dict[str, dict[str, float]]:
    """txkoji's figures for every (name, url), in one run of the reactor."""
    ours: dict[str, dict[str, float]] = {}

    async def measure(reactor):
        for name, url in targets:
            ours[name] = await txkoji_rates(reactor, url, task_id, seconds)

    try:
        task.react(lambda reactor: defer.Deferred.fromCoroutine(measure(reactor)))
    except SystemExit as exit_:
        if exit_.code:
            raise
    return ours


def report(name: str, url: str, task_id: int, seconds: float, threads: int,
           ours: dict[str, float]) -> None:
    baseline = clientsession_sequential(url, task_id, seconds)
    ceiling = threads_ceiling(url, task_id, seconds, threads)
    print(f"getTaskInfo(request=True) on {name} {url}, {seconds:g} s per measurement")
    print(f"  koji ClientSession sequential : {baseline:8.0f} calls/s  (baseline)")
    print(f"  txkoji sequential             : {ours['sequential']:8.0f} calls/s  "
          f"{ours['sequential'] / baseline:.2f}x ClientSession")
    print(f"  {threads} xmlrpc.client threads       : {ceiling:8.0f} calls/s  (hub ceiling)")
    print(f"  txkoji, 8 calls in flight     : {ours['concurrent8']:8.0f} calls/s  "
          f"{ours['concurrent8'] / ceiling:.2f}x ceiling")
    print(f"  txkoji MultiCall of 100       : {ours['multicall100_ms']:8.1f} ms")
    print(f"  txkoji failed calls           : {ours['failed']:8d} of {ours['calls']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running hub (default: start the seeded test hub)")
    parser.add_argument("--task", type=int, help="task id to fetch (default: a seeded one)")
    parser.add_argument("--seconds", type=float, help="per measurement (default 3; 0.5 with "
                        "--quick)")
    parser.add_argument("--quick", action="store_true",
                        help="short measurements: checks that it runs, figures are rough")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--shapes", action="store_true",
                        help="also under wsgiref, apache2 + mod_wsgi and nginx")
    args = parser.parse_args()
    args.seconds = args.seconds or (0.5 if args.quick else 3.0)
    asyncioreactor.install()
    if args.url:
        run([("hub", args.url)], args.task or 1, args.seconds, args.threads)
        return
    from tests.hubservers import Shapes
    from tests.kojihub import KojiHub

    hub = KojiHub()
    hub.start()
    shapes = Shapes(hub)
    try:
        targets = [("twisted.web hub", hub.url)]
        if args.shapes:
            targets += [(server.name, server.url) for server in
                        (shapes.wsgiref(), shapes.apache(), shapes.nginx())]
        run(targets, args.task or hub.facts["builds"]["complete"]["task_id"], args.seconds,
            args.threads)
    finally:
        shapes.stop()
        hub.stop()


def run(targets: list[tuple[str, str]], task_id: int, seconds: float, threads: int) -> None:
    ours = measure_txkoji(targets, task_id, seconds)
    for name, url in targets:
        report(name, url, task_id, seconds, threads, ours[name])


if __name__ == "__main__":
    main()
