"""The ``kojibot`` command: run the bot, or check a configuration file."""

from __future__ import annotations

import argparse
import os
import sys

from kojibot import __version__
from kojibot.errortext import one_line


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="kojibot",
        description="A chat bot for a Koji build system (IRC, Matrix, or this console).",
        epilog="kojibot check-config FILE checks a configuration file and exits.")
    parser.add_argument("--config", metavar="FILE",
                        help="INI file (see bot.example.ini); default: console on Fedora's hub")
    parser.add_argument("--console", action="store_true",
                        help="talk on this terminal even if chat networks are configured")
    parser.add_argument("--log-level", default="info",
                        choices=["debug", "info", "warn", "error"])
    parser.add_argument("--version", action="version", version=f"kojibot {__version__}")
    return parser.parse_args(argv)


def check_config(path: str) -> int:
    """Build everything start-up builds from ``path``, start nothing; OK or its problems."""
    from kojibot import settings
    from kojibot.config import ConfigError

    try:
        settings.load(path)
    except ConfigError as exc:
        _report(path, exc.problems)
        return 1
    print(f"{path}: OK")
    return 0


def _report(source: str, problems: list[str]) -> None:
    """The problem lines, the same from check-config and from start-up."""
    for problem in problems:
        print(f"{source}: {problem}", file=sys.stderr)


def _start_logging(level: str) -> None:
    from twisted.logger import (
        FilteringLogObserver,
        LogLevel,
        LogLevelFilterPredicate,
        globalLogBeginner,
        textFileLogObserver,
    )

    predicate = LogLevelFilterPredicate(defaultLogLevel=LogLevel.levelWithName(level))
    observer = FilteringLogObserver(textFileLogObserver(sys.stderr), [predicate])
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)


def run(args: argparse.Namespace) -> int:
    # Matrix (matrix-nio) needs the asyncio reactor: install it before anything imports one.
    from twisted.internet import asyncioreactor

    asyncioreactor.install()
    from twisted.internet import reactor

    from kojibot import settings as startup
    from kojibot.config import ConfigError

    source = args.config or "kojibot"
    try:
        settings = startup.load(args.config, reactor=reactor)
    except ConfigError as exc:
        _report(source, exc.problems)
        return 2

    from kojibot.state.backends import is_postgresql

    _start_logging(args.log_level)
    status: list[int] = []
    standing = _serve_status(settings, reactor)

    def begin(lease=None) -> None:
        status.append(_start_bot(args, settings, source, lease, standing))
        if status[-1] and reactor.running:
            reactor.stop()

    if is_postgresql(settings.state):
        _lead_then(begin, settings, source, status, standing)
    else:
        begin()
        if status[-1]:
            return status[-1]
    reactor.run()
    return status[-1] if status else 0


def _serve_status(settings, reactor):
    """With ``[metrics]``: /healthz and /metrics from now on, as a standby and as the lead;
    the Standing that tells which. None without the section."""
    section = getattr(settings.config, "metrics", None)
    if section is None:
        return None
    from kojibot.health import Standing, StatusServer

    standing = Standing(settings.koji)
    server = StatusServer(standing, section, reactor=reactor)
    server.startService()
    reactor.addSystemEventTrigger("before", "shutdown", server.stopService)
    return standing


def _lead_then(begin, settings, source: str, status: list[int], standing) -> None:
    """With PostgreSQL state: wait as a standby until this process leads, then ``begin``."""
    from twisted.internet import defer, reactor

    from kojibot.state.lease import Lease

    lease = Lease(settings.state, seconds=settings.config.bot.lease_seconds)
    if standing is not None:
        standing.lease = lease

    def failed(failure) -> None:
        _report(source, [one_line(failure.value)])
        status.append(2)
        reactor.stop()

    reactor.callWhenRunning(lambda: defer.ensureDeferred(lease.acquire()).addCallbacks(
        lambda _: begin(lease), failed))


def _start_bot(args: argparse.Namespace, settings, source: str, lease, standing) -> int:
    """Build the bot, add its adapters and start it, from then on the status port answers
    as the lead; 0, or 2 after saying why not."""
    from twisted.internet import reactor

    from kojibot.adapters.console import ConsoleAdapter
    from kojibot.bot import Bot

    try:
        bot = Bot(settings, lease=lease)
    except Exception as exc:  # noqa: BLE001 - e.g. the state database: one line, exit
        _report(source, [one_line(exc)])
        return 2
    networks = [] if args.console else _networks(settings, bot)
    if not networks:
        bot.add_adapter(ConsoleAdapter(bot.receive, settings.config.bot.nick,
                                       on_eof=reactor.stop))
    bot.startService()
    reactor.addSystemEventTrigger("before", "shutdown", bot.stopService)
    if standing is not None:
        standing.bot = bot
    return 0


def local_dir(state: str) -> str:
    """Where files that belong next to the state go: beside an SQLite file, or for a
    PostgreSQL state in the user data directory of this machine."""
    from kojibot.config import default_state_path
    from kojibot.state.backends import is_postgresql

    return os.path.dirname(default_state_path() if is_postgresql(state) else state)


def _networks(settings, bot) -> list[str]:
    """Add the adapters of the chat networks configured; their names. ``settings`` may be
    the parsed config the bot was built from: the adapters get ``bot.settings``, checked."""
    settings = bot.settings
    names = []
    if settings.irc is not None:
        from kojibot.adapters.irc.network import IRCAdapter

        bot.add_adapter(IRCAdapter(settings.irc, bot.receive, may_send=bot.may_send))
        names.append("irc")
    if settings.matrix is not None:
        from kojibot.adapters.matrix.homeserver import MatrixAdapter

        bot.add_adapter(MatrixAdapter(settings.matrix, bot.receive, may_send=bot.may_send,
                                      state_dir=local_dir(settings.state)))
        names.append("matrix")
    return names


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["check-config"]:
        if len(argv) != 2:
            print("usage: kojibot check-config FILE", file=sys.stderr)
            return 2
        return check_config(argv[1])
    return run(_arguments(argv))

