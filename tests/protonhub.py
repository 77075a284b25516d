"""The real koji hub publishing its events into the test RabbitMQ with koji's own plugin.

koji's ``protonmsg`` hub plugin sends every event over AMQP 1.0 with python-qpid-proton,
which Debian's python3 lacks. The hub therefore runs in a venv over Debian's python3
(``--system-site-packages`` keeps python3-rpm and psycopg2) with proton built from PyPI
once into the test cache (``python -m tests.kojihub fetch`` builds it too). The plugin
publishes to ``amq.topic`` with routing keys ``koji.<event>`` (``koji.build.complete``).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

from tests.kojihub import KojiHub, sdist
from tests.kojihub.hub import DEBIAN_PYTHON

PROTON = "python-qpid-proton==0.40.0"
FIX = "run tests/install-deps"
BUILD_NEEDS = "gcc, python3-dev and libssl-dev"


class ProtonUnavailable(Exception):
    """The venv with proton could not be made; the message is one line saying why."""


def venv_dir() -> Path:
    return sdist.cache_dir() / "hub-venv-proton-0.40.0"


def _run(cmd: list[str], what: str, timeout: float = 600) -> None:
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ProtonUnavailable(f"{what} failed: {exc}; {FIX}") from None
    if run.returncode:
        lines = (run.stderr.strip() or run.stdout.strip() or "no output").splitlines()
        errors = [line.strip() for line in lines if "error" in line.lower()]
        raise ProtonUnavailable(f"{what} failed: {(errors or lines)[-1][:300]}; {FIX}")


def ensure_venv() -> str:
    """The venv's python, made on first use (~20 s) and reused by every later run."""
    root = venv_dir()
    python, done = root / "bin" / "python3", root / ".complete"
    if done.exists():
        return str(python)
    if not os.access(DEBIAN_PYTHON, os.X_OK):
        raise ProtonUnavailable(f"{DEBIAN_PYTHON} not found (package python3); {FIX}")
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f"{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test run may be building it right now
        if done.exists():
            return str(python)
        shutil.rmtree(root, ignore_errors=True)
        _run([DEBIAN_PYTHON, "-m", "venv", "--system-site-packages", str(root)],
             "making a venv (package python3-venv)")
        _run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
              "--no-cache-dir", PROTON], f"building {PROTON} (needs {BUILD_NEEDS})")
        _run([str(python), "-c", "import proton, rpm, psycopg2"],
             "importing proton, rpm and psycopg2 in the venv")
        done.touch()
    return str(python)


def protonmsg_conf(port: int) -> str:
    """The plugin's config: RabbitMQ's 1.0 address /topic/koji.<event> is amq.topic."""
    return (f"[broker]\nurls = amqp://guest:guest@127.0.0.1:{port}\n"
            "topic_prefix = /topic/koji\nconnect_timeout = 5\nsend_timeout = 10\n"
            "[message]\nextra_limit = 0\n"
            "[queue]\nenabled = true\nbatch_size = 100\nmax_age = 24\n")


def start(port: int) -> KojiHub:
    """A started, seeded hub whose events go to the broker on 127.0.0.1:*port*."""
    hub = KojiHub(plugins={"protonmsg": protonmsg_conf(port)}, python=ensure_venv())
    return hub.start()
