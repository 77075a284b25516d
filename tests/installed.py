"""The kojibot that ships: the wheel built from this tree, installed into a fresh venv.

    install = Installation.build(workdir)            # wheel + sdist, venv, pip install
    bot = install.start(config_text, tmp_path)        # that venv's ``kojibot`` executable
    await bot.wait_log(r"joined #koji")
    await bot.stop()

The venv knows nothing of this checkout: the bot runs with its working directory, HOME and
XDG directories in a temporary folder and no PYTHONPATH, so only what the wheel carries is
importable. Its standard error (the log) and output are kept in files for the tests to read.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import venv
from dataclasses import dataclass
from pathlib import Path

from twisted.internet import reactor, task

ROOT = Path(__file__).resolve().parent.parent
EXTRAS = "matrix,e2e,amqp,postgresql,metrics"


class InstallFailed(Exception):
    """Building or installing the wheel failed; the message says which step and why."""


def _run(cmd: list[str], what: str, timeout: float, **kwargs) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, **kwargs)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InstallFailed(f"{what}: {exc}") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise InstallFailed(f"{what} failed: {' | '.join(tail)}")
    return done


@dataclass
class Installation:
    root: Path
    wheel: Path
    sdist: Path

    @property
    def bin(self) -> Path:
        return self.root / "venv" / "bin"

    @property
    def kojibot(self) -> Path:
        return self.bin / "kojibot"

    @property
    def python(self) -> Path:
        return self.bin / "python"

    @classmethod
    def build(cls, root: Path) -> Installation:
        """Build the wheel and sdist from this tree and install the wheel (non-editable)."""
        dist = root / "dist"
        _run([sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)],
             "building the wheel and sdist (python -m build)", 300)
        wheels, sdists = sorted(dist.glob("kojibot-*.whl")), sorted(dist.glob("kojibot-*.tar.gz"))
        if len(wheels) != 1 or len(sdists) != 1:
            raise InstallFailed(f"expected one wheel and one sdist in {dist}, found "
                                f"{[p.name for p in dist.iterdir()]}")
        venv.EnvBuilder(with_pip=True, clear=True).create(root / "venv")
        install = cls(root, wheels[0], sdists[0])
        _run([str(install.python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
              f"{install.wheel}[{EXTRAS}]"], f"pip install {install.wheel.name}[{EXTRAS}]", 600)
        return install

    def environment(self, home: Path) -> dict[str, str]:
        """A clean environment: this venv first on PATH, a private HOME, nothing of ours."""
        env = {key: value for key, value in os.environ.items()
               if key in ("LANG", "LC_ALL", "TZ", "TERM")}
        env.update(PATH=f"{self.bin}:/usr/bin:/bin", HOME=str(home),
                   XDG_DATA_HOME=str(home / "data"), XDG_CACHE_HOME=str(home / "cache"),
                   XDG_CONFIG_HOME=str(home / "config"), PYTHONUNBUFFERED="1")
        return env

    def run(self, args: list[str], home: Path, *, stdin: str | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess:
        """Run the installed ``kojibot`` to its end (for the console and check-config)."""
        home.mkdir(parents=True, exist_ok=True)
        return subprocess.run([str(self.kojibot), *args], input=stdin, capture_output=True,
                              text=True, timeout=timeout, cwd=home, env=self.environment(home))

    def start(self, config_text: str, home: Path, *args: str) -> BotProcess:
        """Start the installed ``kojibot --config`` in the background."""
        home.mkdir(parents=True, exist_ok=True)
        path = home / "bot.ini"
        path.write_text(config_text)
        log = open(home / "kojibot.log", "w+b")
        process = subprocess.Popen(
            [str(self.kojibot), "--config", str(path), *args], stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT, cwd=home, env=self.environment(home))
        return BotProcess(process, home / "kojibot.log", log)


class BotProcess:
    """A running kojibot: its log, waits on it, and a stop by its own pid."""

    def __init__(self, process: subprocess.Popen, log_path: Path, log_file):
        self.process, self.log_path, self._log_file = process, log_path, log_file
        self._seen = 0

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _tail(self) -> str:
        return "\n".join(self.log().splitlines()[-15:])

    async def wait_log(self, pattern: str, timeout: float = 30) -> re.Match:
        """The first log line matching *pattern* after the previous wait's match."""
        deadline = reactor.seconds() + timeout
        while True:
            text = self.log()
            found = re.compile(pattern, re.M).search(text, self._seen)
            if found:
                self._seen = found.end()
                return found
            if self.process.poll() is not None:
                raise AssertionError(f"kojibot exited ({self.process.returncode}) before "
                                     f"logging {pattern!r}; its log ends:\n{self._tail()}")
            if reactor.seconds() > deadline:
                raise AssertionError(f"kojibot did not log {pattern!r} in {timeout} s; its "
                                     f"log ends:\n{self._tail()}")
            await task.deferLater(reactor, 0.05, lambda: None)

    async def stop(self, timeout: float = 15) -> int:
        """SIGTERM, then SIGKILL if it has not exited within *timeout* s; the exit code."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            deadline = reactor.seconds() + timeout
            while self.process.poll() is None and reactor.seconds() < deadline:
                await task.deferLater(reactor, 0.05, lambda: None)
            if self.process.poll() is None:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self._log_file.close()
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL now (a crash, or teardown after a failure), and reap it."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        self._log_file.close()


def healthz(port: int) -> int:
    """The status the bot's /healthz on *port* answers; 0 while nothing answers (blocking)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as got:
            return got.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0
