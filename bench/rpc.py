"""txkoji against koji's own ClientSession and the hub's parallel ceiling, in one run.

    python3 -m bench.rpc [--url HUB_URL] [--seconds 3]

Without --url it starts the test suite's seeded hub (tests.kojihub) and stops it after.
Prints calls/s for: koji.ClientSession sequential (the baseline), txkoji sequential,
N plain xmlrpc.client threads (the hub's ceiling), txkoji with 8 calls in flight, and
one MultiCall of 100 — with ratios against the baseline and the ceiling.
"""

from __future__ import annotations

import argparse
import threading
import time
import xmlrpc.client

from twisted.internet import defer, task

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

    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        await koji.getTaskInfo(task_id)
        count += 1
    sequential = rate(count, time.perf_counter() - start)

    done = [0]
    deadline = time.perf_counter() + seconds

    async def lane() -> None:
        while time.perf_counter() < deadline:
            await koji.getTaskInfo(task_id)
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
            "multicall100_ms": multicall_seconds * 1000}


def report(url: str, task_id: int, seconds: float, threads: int) -> None:
    baseline = clientsession_sequential(url, task_id, seconds)
    ceiling = threads_ceiling(url, task_id, seconds, threads)
    ours: dict[str, float] = {}

    async def measure(reactor):
        ours.update(await txkoji_rates(reactor, url, task_id, seconds))

    try:
        task.react(lambda reactor: defer.Deferred.fromCoroutine(measure(reactor)))
    except SystemExit as exit_:
        if exit_.code:
            raise
    print(f"getTaskInfo(request=True) on {url}, {seconds:g} s per measurement")
    print(f"  koji ClientSession sequential : {baseline:8.0f} calls/s  (baseline)")
    print(f"  txkoji sequential             : {ours['sequential']:8.0f} calls/s  "
          f"{ours['sequential'] / baseline:.2f}x ClientSession")
    print(f"  {threads} xmlrpc.client threads       : {ceiling:8.0f} calls/s  (hub ceiling)")
    print(f"  txkoji, 8 calls in flight     : {ours['concurrent8']:8.0f} calls/s  "
          f"{ours['concurrent8'] / ceiling:.2f}x ceiling")
    print(f"  txkoji MultiCall of 100       : {ours['multicall100_ms']:8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running hub (default: start the seeded test hub)")
    parser.add_argument("--task", type=int, help="task id to fetch (default: a seeded one)")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    if args.url:
        report(args.url, args.task or 1, args.seconds, args.threads)
        return
    from tests.kojihub import KojiHub

    hub = KojiHub()
    hub.start()
    try:
        task_id = args.task or hub.facts["builds"]["complete"]["task_id"]
        report(hub.url, task_id, args.seconds, args.threads)
    finally:
        hub.stop()


if __name__ == "__main__":
    main()
