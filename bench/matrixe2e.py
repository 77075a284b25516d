"""Command to reply on Matrix: an end-to-end encrypted room against an unencrypted one, in
one run.

    python3 -m bench.matrixe2e [--quick] [--commands 50]

Starts the test suite's seeded Koji hub and Synapse (tests/kojihub, tests/synapse), the bot
on Matrix as the CLI builds it (encryption = tofu) and one packager, an encrypting
matrix-nio client (tests/e2euser.py), who creates two rooms with the bot: one encrypted, one
not (the baseline). The packager sends ``!task ID`` in the two rooms in turn, one command at
a time, and each is timed from the send to the moment the packager's client holds the reply
(decrypted, in the encrypted room). The first command in each room is a warm-up (the
encrypted one pays for the Olm and Megolm set-up) and is shown apart. Prints p50, p90 and
max for each room and the ratio encrypted / unencrypted. Runs under the asyncio reactor.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from bench.relay import start_logging, use_asyncio_reactor
from bench.relaychat import percentile

TASK_PLUGIN = Path(__file__).resolve().parent.parent / "plugins" / "task.py"  # by file: the
# checkout's plugins/ is kojibot.plugins only once installed


async def start_bot(reactor, hub, synapse, workdir: Path):
    from kojibot import config
    from kojibot.bot import Bot
    from kojibot.cli import _networks

    account = synapse.register("benchbot")
    settings = config.parse(
        f"[bot]\nrate = 100000\nstate = {workdir}/state.sqlite3\nplugins = {TASK_PLUGIN}\n"
        f"[koji]\nserver = {hub.url}\nweburl = {hub.weburl}\n"
        f"[matrix]\nhomeserver = {synapse.url}\nuser_id = {account['user_id']}\n"
        f"password = {account['password']}\nencryption = tofu\n")
    bot = Bot(settings)
    _networks(settings, bot)
    bot.startService()
    await bot.adapters["matrix"].when_ready().addTimeout(60, reactor)
    return bot, account["user_id"]


async def timed_command(user, room: str, me: str, command: str) -> float:
    """Seconds from sending *command* to holding the bot's reply to it."""
    import nio

    from tests.e2euser import bridge

    start = time.monotonic()
    response = await bridge(user.client.room_send(room, "m.room.message",
                                                  {"msgtype": "m.text", "body": command},
                                                  ignore_unverified_devices=True))
    assert isinstance(response, nio.RoomSendResponse), response
    await user.wait_for(lambda: any(
        event.sender == me and event.source.get("content", {}).get("m.relates_to", {})
        .get("m.in_reply_to", {}).get("event_id") == response.event_id
        and event.source.get("type") == "m.room.message"
        for event in user.events(room)), 30, f"the reply to {command!r}")
    return time.monotonic() - start


async def measure(reactor, hub, synapse, workdir: Path, commands: int) -> dict:
    from tests.e2euser import E2EUser

    bot, me = await start_bot(reactor, hub, synapse, workdir)
    user = await E2EUser.login(synapse.url, synapse.register("benchpackager"),
                               workdir / "packager", "laptop")
    try:
        rooms = {"encrypted": await user.create_room(invite=(me,), encrypted=True),
                 "unencrypted": await user.create_room(invite=(me,), encrypted=False)}
        for room in rooms.values():
            await user.wait_member(room, me)
        await user.sync(0)
        command = f"!task {hub.facts['builds']['complete']['task_id']}"
        times: dict[str, list[float]] = {kind: [] for kind in rooms}
        warmup = {kind: await timed_command(user, room, me, command)
                  for kind, room in rooms.items()}
        for _ in range(commands):
            for kind, room in rooms.items():  # in turn: both see the same load
                times[kind].append(await timed_command(user, room, me, command))
        decrypted = [event for event in user.events(rooms["encrypted"])
                     if event.sender == me and getattr(event, "decrypted", False)]
        return {"times": times, "warmup": warmup, "decrypted": len(decrypted)}
    finally:
        await user.close()
        await bot.stopService()


def report(result: dict, commands: int) -> None:
    rows = {}
    for kind, seconds in result["times"].items():
        ms = sorted(s * 1000 for s in seconds)
        rows[kind] = (percentile(ms, 0.5), percentile(ms, 0.9), ms[-1])
        print(f"  {kind:12s}: p50 {rows[kind][0]:7.1f} ms  p90 {rows[kind][1]:7.1f} ms  "
              f"max {rows[kind][2]:7.1f} ms  (warm-up {result['warmup'][kind] * 1000:.0f} ms)")
    ratio = [e / u for e, u in zip(rows["encrypted"], rows["unencrypted"], strict=True)]
    print(f"  encrypted / unencrypted: p50 {ratio[0]:.2f}x  p90 {ratio[1]:.2f}x  "
          f"max {ratio[2]:.2f}x")
    print(f"  replies decrypted by the packager's client in the encrypted room: "
          f"{result['decrypted']} of {commands + 1}")


def on_hub_and_synapse(measure) -> dict:
    """Start the suite's seeded Koji hub and Synapse, run ``measure(reactor, hub, server,
    workdir)`` under the reactor, stop them again; what it returned."""
    from twisted.internet import defer, task

    from tests import synapse as homeserver
    from tests.kojihub import KojiHub

    start_logging()
    hub, workdir = KojiHub(), Path(tempfile.mkdtemp(prefix="kojibot-bench-"))
    hub.start()
    server = homeserver.start()
    result: dict = {}

    async def run(reactor) -> None:
        result.update(await measure(reactor, hub, server, workdir))

    try:
        task.react(lambda reactor: defer.Deferred.fromCoroutine(run(reactor)))
    except SystemExit as exit_:
        if exit_.code:
            raise
    finally:
        server.cleanup()
        hub.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, help="timed commands per room (default 50; "
                        "5 with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="a few commands: checks that it runs, figures are rough")
    args = parser.parse_args()
    args.commands = args.commands or (5 if args.quick else 50)
    use_asyncio_reactor()
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"kojibot Matrix benchmark: {os.cpu_count()} CPUs, load average {load} at start "
          "(other work on the machine skews every figure below)")
    print(f"command → reply held by the packager's client, {args.commands} commands per room "
          "(in turn), one at a time; real Koji hub 1.30 and Synapse on 127.0.0.1")
    result = on_hub_and_synapse(
        lambda reactor, hub, server, workdir: measure(reactor, hub, server, workdir,
                                                      args.commands))
    report(result, args.commands)


if __name__ == "__main__":
    main()
