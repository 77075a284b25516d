"""A private PostgreSQL cluster for one test run: Unix socket only, no fsync, trust auth.

PostgreSQL refuses to run as root, so under root the server runs as the `postgres` user
(via runuser) in a directory that user owns. Queries go through psql on the socket.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

# Statements whose rows psql returns through COPY, so NULLs and tabs survive intact.
_RETURNS_ROWS = re.compile(r"^\s*(select|with|values|table)\b|\breturning\b", re.I | re.S)


def find_bindir() -> Path | None:
    """The directory holding initdb and pg_ctl: PATH first, then Debian's versioned dirs."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return Path(candidates[-1]).parent if candidates else None


def _unescape(field: str) -> str | None:
    """Decode one field of COPY's text format."""
    if field == r"\N":
        return None
    if "\\" not in field:
        return field
    table = {"t": "\t", "n": "\n", "r": "\r", "\\": "\\", "b": "\b", "f": "\f", "v": "\v"}
    return re.sub(r"\\(.)", lambda m: table.get(m.group(1), m.group(1)), field)


def _alive(pid: int) -> bool:
    """False once *pid* is gone or a zombie: its reaper is init, which may take seconds."""
    try:
        os.kill(pid, 0)
        stat = Path(f"/proc/{pid}/stat").read_text()
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


class Cluster:
    """initdb + pg_ctl start in *directory*; `stop()` signals the postmaster by its pid."""

    def __init__(self, directory: Path, bindir: Path):
        self.dir = directory
        self.bindir = bindir
        self.data = directory / "data"
        self.socket_dir = directory
        self.log = directory / "postgres.log"
        self.pid: int | None = None
        self._as_postgres = os.geteuid() == 0

    def _run(self, *cmd: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_postgres else []
        proc = subprocess.run(prefix + list(cmd), capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(f"{Path(cmd[0]).name} failed: {proc.stderr.strip()}")

    def start(self) -> None:
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self._as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(str(self.bindir / "initdb"), "-A", "trust", "-U", "postgres", "--no-sync",
                  "-E", "UTF8", "--locale=C", "-D", str(self.data))
        options = (f"-c listen_addresses='' -k {self.socket_dir} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c timezone=UTC")
        self._run(str(self.bindir / "pg_ctl"), "start", "-w", "-s", "-D", str(self.data),
                  "-l", str(self.log), "-o", options)
        self.pid = int((self.data / "postmaster.pid").read_text().split()[0])

    def stop(self, clean: bool = False, timeout: float = 10.0) -> None:
        """Stop the postmaster by its pid: immediate shutdown (SIGQUIT) for a cluster
        about to be deleted, else a fast, clean one (SIGINT) that escalates if it lingers."""
        if self.pid is None:
            return
        pid, self.pid = self.pid, None
        signals = (signal.SIGINT, signal.SIGQUIT) if clean else (signal.SIGQUIT,)
        for sig in signals:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if not _alive(pid):
                    return
                time.sleep(0.02)

    def psql(self, sql: str, database: str = "koji", user: str = "koji") -> str:
        """Run *sql* (one or more statements) and return psql's output."""
        cmd = [str(self.bindir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
               "-h", str(self.socket_dir), "-U", user, "-d", database]
        proc = subprocess.run(cmd, input=sql, capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(f"psql failed: {proc.stderr.strip()}\nSQL: {sql[:500]}")
        return proc.stdout

    def load(self, path: Path, database: str = "koji", user: str = "koji") -> None:
        self.psql(path.read_text(), database, user)

    def rows(self, query: str, database: str = "koji") -> list[tuple[str | None, ...]]:
        """Rows as tuples of text (None for NULL); statements without rows give []."""
        query = query.strip().rstrip(";")
        if not _RETURNS_ROWS.search(query):
            self.psql(query + ";\n", database)
            return []
        out = self.psql(f"COPY ({query}) TO STDOUT;\n", database)
        return [tuple(_unescape(f) for f in line.split("\t")) for line in out.split("\n")[:-1]]
