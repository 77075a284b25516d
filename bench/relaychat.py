"""Parts (c) and (d) of bench/relay.py: the whole bot on a real IRC server.

Run them through ``python3 -m bench.relay --parts c,d``.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from pathlib import Path

from bench.relay import (
    LATENCY_RATE,
    NO_HUB,
    WEBURL,
    blocking,
    publish_builds,
    wait_until,
)
from kojibot.state.backends import SQLite
from kojibot.state.store import Store, Subscription, Tables
from tests.busmessages import count_events, fedora_build, lines_from


def watcher_class():
    """The scripted IRC user, noting when each line arrived (monotonic clock)."""
    from tests.ircuser import IRCUser

    class TimedUser(IRCUser):
        def __init__(self, nick: str, caps: tuple[str, ...] = ()):
            super().__init__(nick, caps)
            self.arrived: list[float] = []  # one per entry of self.heard

        def lineReceived(self, data: bytes) -> None:
            self.arrived.append(time.monotonic())
            super().lineReceived(data)

    return TimedUser


def ircd_kinds():
    """The fixture servers: ngircd without its flood penalty, inspircd without services."""
    from tests.ircd import InspIRCd, UnthrottledNgIRCd

    class PlainInspIRCd(InspIRCd):
        """inspircd exactly as the tests run it, minus atheme (nothing here logs in)."""

        def __init__(self, workdir: Path):
            super().__init__(workdir, services=False)

    return UnthrottledNgIRCd, PlainInspIRCd


async def start_bot(reactor, workdir: Path, nick: str, channel: str, package: str,
                    irc_port: int, amqp_url: str, bot_extra: str = "", irc_extra: str = ""):
    """The real Bot ([irc] + [amqp]) with one subscription: *package* complete → *channel*."""
    from kojibot import config
    from kojibot.adapters.irc.network import adapter_from_config
    from kojibot.bot import Bot

    state = workdir / "state.sqlite3"
    Store(str(state)).close()
    seeding = Tables(SQLite(str(state)))
    seeding.subscribe(Subscription("irc", channel, "package", package, frozenset({"complete"})))
    seeding.db.close()
    # Commands play no part in relaying: one plugin, so plugins being written elsewhere in
    # the tree cannot stop the benchmark. Everything else is the Bot as the CLI builds it.
    settings = config.parse(
        f"[bot]\nnick = {nick}\nstate = {state}\nplugins = help\n{bot_extra}"
        f"[koji]\nserver = {NO_HUB}\nweburl = {WEBURL}\n"
        f"[irc]\nhost = 127.0.0.1\nport = {irc_port}\ntls = no\nchannels = {channel}\n"
        f"{irc_extra}"
        f"[amqp]\nurl = {amqp_url}\nqueue = kojibot-{nick}\n")
    bot = Bot(settings)
    adapter = adapter_from_config(settings.irc, bot.receive)
    bot.add_adapter(adapter)
    bot.startService()
    try:
        await adapter.when_ready().addTimeout(30, reactor)
        await bot.getServiceNamed("amqp").when_consuming().addTimeout(30, reactor)
    except BaseException:
        await bot.stopService()
        raise
    return bot, adapter


async def with_peers(reactor, server_kind, measure):
    """Start a private RabbitMQ node and an IRC server, run measure(broker, server, workdir),
    and stop both (and remove their files) whatever happens."""
    from tests import ircd
    from tests import rabbitmq as node

    workdir = Path(tempfile.mkdtemp(prefix="kojibot-bench-"))
    try:
        broker = await blocking(node.start)
        try:
            server = await blocking(ircd.start, server_kind)
            try:
                return await measure(broker, server, workdir)
            finally:
                await blocking(ircd.cleanup, server)
        finally:
            await blocking(broker.cleanup)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return ordered[max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))]


async def latency(reactor, broker, server, workdir: Path, count: int) -> dict:
    from kojibot.chat.render import strip_irc_formatting

    channel, nick, package = "#latency", "latbot", "latpkg"
    watcher = await watcher_class().connect(server.port, "latwatch")
    await watcher.join(channel)
    bot, adapter = await start_bot(
        reactor, workdir, nick, channel, package, server.port, broker.url,
        bot_extra="digest_after = 100000\n", irc_extra="line_rate = 1000\nburst = 100\n")
    try:
        items = [(700000 + n, fedora_build(700000 + n, package, 1, owner="latuser"))
                 for n in range(count)]
        shape = re.compile(rf"^{package}-1\.0-(\d+)\.fc41 COMPLETE")
        digest = re.compile(rf"^(\d+) builds \w+: {package}-")
        arrivals: dict[int, float] = {}
        digested: list[tuple[float, int]] = []  # (arrival, events) of each digest line
        place = 0

        def collect() -> bool:
            nonlocal place
            for index in range(place, len(watcher.heard)):
                heard = watcher.heard[index]
                if heard.command == "PRIVMSG" and heard.nick == adapter.nick:
                    line = strip_irc_formatting(heard.text)
                    if found := shape.match(line):
                        arrivals.setdefault(int(found.group(1)), watcher.arrived[index])
                    elif found := digest.match(line):
                        digested.append((watcher.arrived[index], int(found.group(1))))
            place = len(watcher.heard)
            return len(arrivals) + sum(events for _, events in digested) >= count

        published = await blocking(publish_builds, broker.url, items, LATENCY_RATE)
        first, span = min(published.values()), max(published.values()) - min(published.values())
        await wait_until(reactor, collect, timeout=15)
        still_connected = adapter.ready
        # Where the events that did not arrive are: for a short count, says which stage.
        stuck = {"acked": bot.getServiceNamed("amqp").stats.acked,
                 "outbox rows": len(await bot.store.pending()),
                 "in flight": len(bot.outbox.in_flight),
                 "adapter queue": len(adapter.outbox)}
    finally:
        await watcher.quit()
        await bot.stopService()
    in_order = [(arrivals[i] - published[i]) * 1000 for i in sorted(published) if i in arrivals]
    return {"count": count, "span": span, "arrived": len(arrivals), "ms": sorted(in_order),
            "in_order": in_order, "connected": still_connected, "stuck": stuck,
            "digests": [(at - first, events) for at, events in digested]}


async def report_c(reactor, count: int) -> None:
    ngircd_kind, _ = ircd_kinds()
    result = await with_peers(reactor, ngircd_kind,
                              lambda broker, server, workdir: latency(reactor, broker, server,
                                                                      workdir, count))
    ms = result["ms"]
    print(f"(c) publish → line on IRC: {result['count']} events at {LATENCY_RATE}/s "
          f"(published over {result['span']:.2f} s), private RabbitMQ → bot → ngircd "
          "(MaxPenaltyTime = 0) → scripted user; bot pacing 1,000 lines/s, burst 100")
    if ms:
        print(f"    latency p50 {percentile(ms, 0.50):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms, "
              f"max {ms[-1]:.1f} ms; {result['arrived']}/{result['count']} arrived as single "
              "lines; "
              f"bot still connected: {'yes' if result['connected'] else 'NO'}")
    else:
        print(f"    nothing arrived (0/{result['count']})")
    if result["digests"]:
        print(f"    NOT all single lines: {sum(n for _, n in result['digests'])} events came in "
              "digest lines instead (" + ", ".join(
                  f"{n} at +{at:.1f} s" for at, n in result["digests"])
              + ") although digest_after = 100000")
    shown = result["arrived"] + sum(n for _, n in result["digests"])
    if shown < result["count"]:
        print(f"    {result['count'] - shown} events never shown; 15 s after the last publish: "
              + ", ".join(f"{stage} {value}" for stage, value in result["stuck"].items()))


async def burst(reactor, broker, server, workdir: Path, count: int) -> dict:

    channel, nick, package = "#burst", "burstbot", "burstpkg"
    watcher = await watcher_class().connect(server.port, "burstwatch")
    await watcher.join(channel)
    bot, adapter = await start_bot(reactor, workdir, nick, channel, package, server.port,
                                   broker.url)
    try:
        connection = adapter.connection
        items = [(800000 + n, fedora_build(800000 + n, package, 1, owner="burstuser"))
                 for n in range(count)]
        started = time.monotonic()
        await blocking(publish_builds, broker.url, items)
        published = time.monotonic() - started
        complete = await wait_until(
            reactor, lambda: count_events(lines_from(watcher, nick), package)[0] >= count,
            timeout=60, step=0.05)
        said = [index for index, heard in enumerate(watcher.heard)
                if heard.command == "PRIVMSG" and heard.nick == nick]
        last = watcher.arrived[said[-1]] - started if said else float("nan")
        # Stay a moment: a server that objects to the burst says so after it.
        await wait_until(reactor, lambda: False, timeout=2, step=0.25)
        total, names = count_events(lines_from(watcher, nick), package)
        quits = [heard.raw for heard in watcher.heard if heard.nick == nick
                 and heard.command in ("QUIT", "PART", "KILL")]
        joins = sum(1 for heard in watcher.heard if heard.command == "JOIN" and heard.nick == nick)
        stayed = (adapter.connection is connection and connection.transport.connected
                  and connection.server_error is None and not quits and joins == 1)
        digests = [text for text in lines_from(watcher, nick) if re.match(r"\d+ builds", text)]
    finally:
        await watcher.quit()
        await bot.stopService()
    return {"published": published, "complete": complete, "last": last, "lines": len(said),
            "total": total, "distinct": len(set(names)) == len(names), "stayed": stayed,
            "quits": quits, "joins": joins, "error": connection.server_error,
            "digests": digests}


async def report_d(reactor, count: int) -> None:
    _, inspircd_kind = ircd_kinds()
    result = await with_peers(reactor, inspircd_kind,
                              lambda broker, server, workdir: burst(reactor, broker, server,
                                                                    workdir, count))
    print(f"(d) {count}-event burst into one channel on inspircd (10 lines free, then 1/s; "
          "fakelag), default pacing (burst 10, 1 line/s) and digests (5 per 10 s)")
    whole = result["total"] == count and result["distinct"]
    print(f"    published in {result['published']:.2f} s; last line {result['last']:.1f} s "
          f"after the burst began; {result['lines']} lines sent; events shown "
          f"{result['total']}/{count} ({'all' if whole else 'NOT all'} accounted for)")
    stayed = "yes" if result["stayed"] else (
        f"NO (joins {result['joins']}, quits {result['quits']}, error {result['error']!r})")
    print(f"    bot stayed connected: {stayed}; digest lines: {result['digests']}")


