"""Stopping the servers the suite started: by their own pid, never by name."""

from __future__ import annotations

import signal
import subprocess


def terminate(process: subprocess.Popen | None, grace: float = 10.0) -> None:
    """SIGTERM (and SIGCONT, should it be paused), then SIGKILL after *grace* seconds."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    process.send_signal(signal.SIGCONT)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
