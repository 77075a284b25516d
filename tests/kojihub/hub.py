"""KojiHub: a real koji 1.30 hub on 127.0.0.1 with its own PostgreSQL, seeded and ready.

Integration tests talk to the same server a Fedora-style deployment runs, not a double:
start() makes a work directory, a test CA, a private database cluster and the hub
process (tests/kojihub/server.py under Debian's python3), then seeds it (seed.py).
stop() ends exactly the processes it started, by pid.
"""

from __future__ import annotations

import atexit
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.processes import terminate

from . import sdist
from .pki import TestCA
from .postgres import Cluster, find_bindir
from .seed import ADMIN, HOST, HOST_PASSWORD, USERS, bootstrap_sql, seed

SERVER = Path(__file__).with_name("server.py")
DEBIAN_PYTHON = "/usr/bin/python3"
WEBURL = "https://koji.example.test/koji"
FIX = "run tests/install-deps"


class HubUnavailable(Exception):
    """Something the hub needs is not installed; the message is one line saying what."""


def _hub_conf(options: dict[str, str], policy: dict[str, str]) -> str:
    lines = ["[hub]", *(f"{key} = {value}" for key, value in options.items())]
    if policy:
        lines += ["", "[policy]", *(f"{key} = {value}" for key, value in policy.items())]
    return "\n".join(lines) + "\n"


class KojiHub:
    """A started, seeded hub: see `url`, `users`, `facts`, `session()` and friends.

    *hub_options* are extra [hub] settings for hub.conf, *policy* a [policy] section,
    *plugins* maps hub plugin names to the text of their config file (or None); the
    plugins load from the sdist's plugins/hub unless hub_options sets PluginPath.
    *python* runs the server (a venv with extra modules for a plugin, for instance).
    """

    weburl = WEBURL

    def __init__(self, hub_options: dict[str, str] | None = None,
                 policy: dict[str, str] | None = None,
                 plugins: dict[str, str | None] | None = None,
                 python: str = DEBIAN_PYTHON, seeded: bool = True):
        self.hub_options = dict(hub_options or {})
        self.policy = dict(policy or {})
        self.plugins = dict(plugins or {})
        self.python = python
        self.seeded = seeded
        self.users = dict(USERS)
        self.host_name, self.host_password = HOST, HOST_PASSWORD
        self.facts: dict = {}
        self.timings: dict[str, float] = {}
        self.workdir: Path | None = None
        self.cluster: Cluster | None = None
        self.ca: TestCA | None = None
        self.process: subprocess.Popen | None = None
        self.url = self.ssl_url = self.topurl = ""
        self._stopped = False

    # -- prerequisites -------------------------------------------------------------

    def _prerequisites(self) -> tuple[Path, Path]:
        try:
            tree = sdist.fetch()
        except (sdist.FetchError, OSError) as exc:
            raise HubUnavailable(f"koji {sdist.VERSION} sdist missing from {sdist.cache_dir()} "
                                 f"and not downloadable ({exc}); {FIX}") from None
        bindir = find_bindir()
        if bindir is None:
            raise HubUnavailable(f"PostgreSQL initdb not found (package postgresql); {FIX}")
        if not shutil.which("openssl"):
            raise HubUnavailable(f"openssl command not found (package openssl); {FIX}")
        if not os.access(self.python, os.X_OK):
            raise HubUnavailable(f"{self.python} not found (package python3); {FIX}")
        if os.geteuid() == 0:
            if not shutil.which("runuser"):
                raise HubUnavailable(f"runuser not found (package util-linux); {FIX}")
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise HubUnavailable(f"no postgres user (package postgresql); {FIX}") from None
        try:
            import koji  # noqa: F401
        except ImportError:
            raise HubUnavailable(f"koji client library not importable; {FIX}") from None
        return tree, bindir

    # -- start / stop --------------------------------------------------------------

    def start(self) -> KojiHub:
        began = time.monotonic()
        tree, bindir = self._prerequisites()
        atexit.register(self.stop)
        try:
            self._start(tree, bindir)
            self.timings["start"] = time.monotonic() - began
            if self.seeded:
                began = time.monotonic()
                self.facts = seed(self)
                self._make_template()
                self.timings["seed"] = time.monotonic() - began
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, tree: Path, bindir: Path) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="kojihub-"))
        self.workdir.chmod(0o755)  # the postgres user must reach its own subdirectory
        kojidir = self.workdir / "koji"
        for sub in ("packages", "repos", "work", "scratch"):
            (kojidir / sub).mkdir(parents=True)
        (self.workdir / "hub.conf.d").mkdir()
        (self.workdir / "plugins").mkdir()
        self.ca = TestCA(self.workdir / "pki")
        server_cert, server_key = self.ca.server()
        for user in USERS:
            self.ca.client(user)
        self.cluster = Cluster(self.workdir / "pg", bindir)
        (self.workdir / "hub.conf").write_text(_hub_conf(self._options(tree, kojidir),
                                                         self.policy))
        for name, text in self.plugins.items():
            if text is not None:
                (self.workdir / "plugins" / f"{name}.conf").write_text(text)

        log = (self.workdir / "hub.log").open("ab")
        cmd = [self.python, str(SERVER), "--sdist", str(tree), "--workdir", str(self.workdir),
               "--config", str(self.workdir / "hub.conf"),
               "--config-dir", str(self.workdir / "hub.conf.d"), "--kojidir", str(kojidir),
               "--cert", str(server_cert), "--key", str(server_key),
               "--ca", str(self.ca.cert), "--plugin-conf-dir", str(self.workdir / "plugins")]
        env = dict(os.environ, TZ="UTC", PYTHONUNBUFFERED="1")
        env.pop("PYTHONPATH", None)
        self.process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                        stderr=subprocess.STDOUT, env=env, cwd=self.workdir)
        log.close()
        # The server imports the hub while the database is made.
        self.cluster.start()
        self.cluster.psql("CREATE ROLE koji LOGIN;", "postgres", "postgres")
        self.cluster.psql("CREATE DATABASE koji OWNER koji;", "postgres", "postgres")
        self.cluster.load(tree / "docs" / "schema.sql")
        self.cluster.psql(bootstrap_sql())
        ports = self._wait_for_server()
        self.url = f"http://127.0.0.1:{ports['http']}/kojihub"
        self.ssl_url = f"https://127.0.0.1:{ports['https']}/kojihub"
        self.topurl = f"http://127.0.0.1:{ports['http']}/kojifiles"

    def _options(self, tree: Path, kojidir: Path) -> dict[str, str]:
        options = {
            "DBName": "koji", "DBUser": "koji", "DBHost": str(self.workdir / "pg"),
            "KojiDir": str(kojidir), "LoginCreatesUser": "True",
            "DisableNotifications": "True", "KojiTraceback": "normal",
            "DNUsernameComponent": "CN", "KojiWebURL": WEBURL, "EmailDomain": "example.test",
            "PluginPath": str(tree / "plugins" / "hub"), "Plugins": " ".join(self.plugins),
        }
        options.update(self.hub_options)
        return options

    def _wait_for_server(self, timeout: float = 30.0) -> dict:
        ready = self.workdir / "server.json"
        deadline = time.monotonic() + timeout
        while not ready.exists():
            if self.process.poll() is not None:
                raise HubUnavailable(self._server_failure())
            if time.monotonic() > deadline:
                raise RuntimeError(f"hub server not ready after {timeout}s; see {self.log}")
            time.sleep(0.02)
        return json.loads(ready.read_text())

    def _server_failure(self) -> str:
        lines = self.log.read_text(errors="replace").splitlines()
        reasons = [line.split("kojihub-server: ", 1)[1] for line in lines
                   if "kojihub-server: " in line]
        if reasons and "cannot import" in reasons[-1]:
            return f"{reasons[-1]}; {FIX}"
        detail = reasons[-1] if reasons else (lines[-1] if lines else "no output")
        errors = [line for line in lines if re.match(r"[\w.]+(Error|Exception)\b.*:", line)]
        if errors:
            detail += f"; last error: {errors[-1]}"
        return (f"hub server exited with {self.process.returncode}: {detail} "
                "(KOJIBOT_KEEP_HUB=1 keeps its log)")

    @property
    def log(self) -> Path:
        return self.workdir / "hub.log"

    def stop(self) -> None:
        """Stop the server and the database (by pid) and remove the work directory,
        unless KOJIBOT_KEEP_HUB is set. Safe to call twice or after a failed start."""
        atexit.unregister(self.stop)
        if self._stopped:
            return
        self._stopped = True
        proc, self.process = self.process, None
        terminate(proc)
        keep = bool(os.environ.get("KOJIBOT_KEEP_HUB"))
        if self.cluster is not None:
            self.cluster.stop(clean=keep)
        if self.workdir is not None:
            if keep:
                print(f"KOJIBOT_KEEP_HUB: kept {self.workdir}", file=sys.stderr)
            else:
                shutil.rmtree(self.workdir, ignore_errors=True)

    # -- helpers for tests ---------------------------------------------------------

    @property
    def ca_cert(self) -> str:
        return str(self.ca.cert)

    def client_cert(self, user: str) -> tuple[str, str]:
        """(certificate, key) paths of *user*'s client certificate (subject CN = user)."""
        name = f"client-{user}"
        return str(self.ca.dir / f"{name}.crt"), str(self.ca.dir / f"{name}.key")

    def client_pem(self, user: str) -> str:
        """Certificate and key in one file, as koji's ssl_login(cert=...) wants."""
        return str(self.ca.dir / f"client-{user}.pem")

    def sql(self, query: str, database: str = "koji") -> list[tuple[str | None, ...]]:
        """Run *query* in the hub's database; rows as tuples of text (None for NULL)."""
        return self.cluster.rows(query, database)

    def set_offline(self, flag: bool = True) -> None:
        """While set, the hub answers every call with fault 1014 (ServerOffline)."""
        path = self.workdir / "offline"
        if flag:
            path.touch()
        else:
            path.unlink(missing_ok=True)

    def session(self, user: str = ADMIN, **opts):
        """A koji.ClientSession (HubSession) logged in as *user* with its password."""
        from .client import HubSession

        session = HubSession(self.url, opts={"user": user,
                                                     "password": self.users[user], **opts})
        session.login()
        return session

    def ssl_session(self, user: str, **opts):
        """A koji.ClientSession logged in through sslLogin with *user*'s certificate."""
        from .client import HubSession

        session = HubSession(self.ssl_url, opts=opts)
        session.ssl_login(cert=self.client_pem(user), serverca=self.ca_cert)
        return session

    def host_session(self):
        """The builder host, logged in with an exclusive session (as kojid runs);
        this ends any exclusive session the host had before."""
        from .client import HubSession

        session = HubSession(self.url, opts={"user": self.host_name,
                                                     "password": self.host_password})
        session.login()
        session.exclusiveSession(force=True)
        return session

    def _make_template(self) -> None:
        """Keep a copy of the seeded database so reset() is a cheap CREATE ... TEMPLATE."""
        self._drop_connections()
        self.cluster.psql("CREATE DATABASE koji_seeded TEMPLATE koji OWNER koji;",
                          "postgres", "postgres")

    def _drop_connections(self) -> None:
        self.cluster.psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                          "WHERE datname = 'koji' AND pid <> pg_backend_pid();",
                          "postgres", "postgres")

    def reset(self) -> None:
        """Put the database back to the freshly seeded state (~0.2 s). Sessions made
        since seeding are gone with it; files under KojiDir are not reset."""
        self.cluster.psql("DROP DATABASE koji WITH (FORCE);", "postgres", "postgres")
        self.cluster.psql("CREATE DATABASE koji TEMPLATE koji_seeded OWNER koji;",
                          "postgres", "postgres")
