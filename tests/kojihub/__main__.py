"""Command line: `fetch` caches the koji sdist and the hub's venv with python-qpid-proton
(tests/install-deps runs it); `start` runs a seeded hub for manual poking and prints where
it is and what it holds."""

from __future__ import annotations

import argparse
import json
import signal
import sys

from . import sdist
from .hub import HubUnavailable, KojiHub


def fetch() -> int:
    from tests import protonhub

    try:
        print(sdist.fetch())
        print(protonhub.ensure_venv())
    except (sdist.FetchError, protonhub.ProtonUnavailable) as exc:
        print(f"kojihub fetch: {exc}", file=sys.stderr)
        return 1
    return 0


def start() -> int:
    hub = KojiHub()
    try:
        hub.start()
    except HubUnavailable as exc:
        print(f"kojihub start: {exc}", file=sys.stderr)
        return 1
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    json.dump({"url": hub.url, "ssl_url": hub.ssl_url, "topurl": hub.topurl,
               "weburl": hub.weburl, "ca_cert": hub.ca_cert, "workdir": str(hub.workdir),
               "users": hub.users, "timings": hub.timings, "facts": hub.facts},
              sys.stdout, indent=2)
    print(flush=True)
    try:
        while not stop:
            signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        hub.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.kojihub", description=__doc__)
    parser.add_argument("command", choices=["fetch", "start"])
    args = parser.parse_args(argv)
    return fetch() if args.command == "fetch" else start()


if __name__ == "__main__":
    sys.exit(main())
