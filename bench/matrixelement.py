"""Command to decrypted reply on Matrix for someone in Element: an encrypted DM made the way
Element makes one against an unencrypted room, in one run.

    python3 -m bench.matrixelement [--quick] [--commands 50] [--exclusion on|off]

Starts the test suite's seeded Koji hub and Synapse, the bot on Matrix as the CLI builds it
(bench/matrixe2e.py's start), and one person on Element's own crypto stack (matrix-js-sdk with
its Rust crypto in Node 22, tests/elementperson.py) who cross-signs their device and, with
``--exclusion on`` (Element's 2026 default), excludes insecure devices. They open an
encrypted DM with the bot and an unencrypted room (the baseline) and send ``!task ID`` in the
two in turn, one at a time; each is timed inside the person's process from the send to the
decrypted reply. The first command in each room is a warm-up (the encrypted one pays for the
Olm and Megolm set-up), shown apart. Prints p50, p90 and max per room and the ratio encrypted
/ unencrypted. ``--quick`` times 5 commands per room: it checks that it runs, the figures
are rough.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bench.matrixe2e import on_hub_and_synapse, start_bot
from bench.relay import use_asyncio_reactor
from bench.relaychat import percentile

QUICK = 5


async def measure(reactor, hub, synapse, workdir: Path, commands: int, exclude: bool) -> dict:
    from tests.elementperson import ElementPerson

    bot, me = await start_bot(reactor, hub, synapse, workdir)
    person = await ElementPerson.login(synapse.url, synapse.register("elementpackager"),
                                       workdir / "element", "laptop")
    try:
        await person.bootstrap()
        await person.exclude_insecure_devices(exclude)
        rooms = {"encrypted DM": await person.create_dm(me),
                 "unencrypted": await person.create_room(invite=(me,), encrypted=False)}
        for room in rooms.values():
            await person.wait_member(room, me)
        command = f"!task {hub.facts['builds']['complete']['task_id']}"
        warmup = {kind: (await person.ask(room, command, me))["ms"]
                  for kind, room in rooms.items()}
        times: dict[str, list[float]] = {kind: [] for kind in rooms}
        for _ in range(commands):
            for kind, room in rooms.items():  # in turn: both see the same load
                answer = await person.ask(room, command, me)
                assert answer["encrypted"] == (kind == "encrypted DM"), answer
                times[kind].append(answer["ms"])
        return {"times": times, "warmup": warmup}
    finally:
        await person.stop()
        await bot.stopService()


def report(result: dict) -> None:
    rows = {}
    for kind, ms in result["times"].items():
        ms = sorted(ms)
        rows[kind] = (percentile(ms, 0.5), percentile(ms, 0.9), ms[-1])
        print(f"  {kind:13s}: p50 {rows[kind][0]:7.1f} ms  p90 {rows[kind][1]:7.1f} ms  "
              f"max {rows[kind][2]:7.1f} ms  (warm-up {result['warmup'][kind]:.0f} ms)")
    ratio = [e / u for e, u in zip(rows["encrypted DM"], rows["unencrypted"], strict=True)]
    print(f"  encrypted DM / unencrypted: p50 {ratio[0]:.2f}x  p90 {ratio[1]:.2f}x  "
          f"max {ratio[2]:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, help="timed commands per room (default 50; "
                        f"{QUICK} with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="a few commands: checks that it runs, figures are rough")
    parser.add_argument("--exclusion", choices=("on", "off"), default="on",
                        help="Element's 'exclude insecure devices' (on: the 2026 default)")
    args = parser.parse_args()
    commands = args.commands or (QUICK if args.quick else 50)
    use_asyncio_reactor()
    from tests.elementperson import ElementUnavailable, node

    try:
        node()
    except ElementUnavailable as exc:
        sys.exit(f"bench.matrixelement: {exc}")
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"kojibot Matrix benchmark, Element's crypto stack: {os.cpu_count()} CPUs, load "
          f"average {load} at start (other work on the machine skews every figure below)")
    print(f"command → decrypted reply on the person's device, {commands} commands per room "
          f"(in turn), one at a time, exclude insecure devices {args.exclusion}; real Koji hub "
          "1.30 and Synapse on 127.0.0.1")

    async def timed(reactor, hub, server, workdir) -> dict:
        try:
            return await measure(reactor, hub, server, workdir, commands, args.exclusion == "on")
        except AssertionError as exc:  # a reply that never decrypted: say which
            return {"error": str(exc)}

    result = on_hub_and_synapse(timed)
    if "error" in result:
        sys.exit(f"bench.matrixelement: {result['error']}")
    report(result)


if __name__ == "__main__":
    main()
