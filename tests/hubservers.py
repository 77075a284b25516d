"""The seeded koji hub served the ways production serves it, for transport tests.

The `kojihub` fixture runs the hub under twisted.web. These shapes serve a clone of the
same seeded database (so the fixture's `facts` hold for them) through other servers:

- `wsgiref`: Python's wsgiref server: HTTP/1.0, closes after every answer;
- `apache`: Debian's apache2 + mod_wsgi as koji's docs deploy it (daemon processes=2
  threads=4, KeepAlive On, KeepAliveTimeout 2, MaxKeepAliveRequests 5, user www-data);
- `nginx`: Debian's nginx in front of the apache hub, with a 1 s keep-alive timeout.

Each server runs under its own directory with its own ports on 127.0.0.1, and `stop()`
ends it by its pid. A missing program raises ShapeUnavailable with one line saying what.
The fixtures at the end are registered by tests/peers/conftest.py.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import xmlrpc.client
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.kojihub import sdist
from tests.kojihub.hub import DEBIAN_PYTHON, FIX
from tests.processes import terminate

HERE = Path(__file__).parent
WSGIREF_SERVER = HERE / "kojihub" / "wsgiref_server.py"
APACHE = "/usr/sbin/apache2"
APACHE_MODULES = Path("/usr/lib/apache2/modules")
NGINX = "/usr/sbin/nginx"
DATABASE = "koji_shapes"
APACHE_KEEPALIVE = 2.0
NGINX_KEEPALIVE = 1.0


class ShapeUnavailable(Exception):
    """A server shape cannot run here; the message is one line saying what is missing."""


def free_port() -> int:
    """A port free on 127.0.0.1 right now (for servers that cannot listen on port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_time(pid: int) -> str | None:
    """The process's start time (tells it from a later process with the same pid), or
    None once it is gone or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else fields[19]


def _descendants(pid: int) -> list[tuple[int, str]]:
    """(pid, start time) of every process below *pid*, e.g. mod_wsgi's daemons."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[-1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        started = _start_time(child)
        if started is not None:
            found.append((child, started))
        todo.extend(children.get(child, []))
    return found


def _clean_env() -> dict[str, str]:
    """The environment for Debian's programs: no pyenv or virtualenv Python settings."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["TZ"] = "UTC"
    return env


@dataclass
class Server:
    """One running server: its hub `url`, the process, and the log to read on failure."""

    name: str
    url: str
    process: subprocess.Popen
    log: Path
    keepalive: float | None = None  # the server's idle keep-alive timeout, if it keeps any
    facts: dict = field(default_factory=dict)

    @property
    def port(self) -> int:
        return int(self.url.split(":")[2].split("/")[0])

    def proxy(self) -> xmlrpc.client.ServerProxy:
        """xmlrpc.client through this server: how tests read expected values."""
        return xmlrpc.client.ServerProxy(self.url, allow_none=True, use_builtin_types=True)

    def last_error(self) -> str:
        try:
            lines = [line for line in self.log.read_text(errors="replace").splitlines()
                     if line.strip()]
        except OSError:
            return "no log"
        return lines[-1][:300] if lines else "empty log"

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise ShapeUnavailable(f"{self.name} exited with {self.process.returncode}: "
                                       f"{self.last_error()} (log {self.log})")
            try:
                self.proxy().getAPIVersion()
                return
            except (OSError, xmlrpc.client.Error, ValueError):
                if time.monotonic() > deadline:
                    raise ShapeUnavailable(f"{self.name} not answering on {self.url} after "
                                           f"{timeout:.0f} s: {self.last_error()}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM to the server's main process, then to any of its processes that
        outlived it (apache leaves mod_wsgi daemons behind now and then), all by pid."""
        proc = self.process
        left = _descendants(proc.pid) if proc.poll() is None else []
        terminate(proc)
        for sig, grace in ((signal.SIGTERM, 2), (signal.SIGKILL, 5)):
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline:
                left = [(pid, started) for pid, started in left
                        if _start_time(pid) == started]
                if not left:
                    return
                time.sleep(0.05)
            for pid, _ in left:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass


class Shapes:
    """Owns the servers started for one test session, their directory and database."""

    def __init__(self, kojihub):
        self.kojihub = kojihub
        self.dir = Path(tempfile.mkdtemp(prefix="hubshapes-"))
        self.dir.chmod(0o755)  # apache's workers and mod_wsgi daemons run as www-data
        self.servers: dict[str, Server] = {}
        self._prepared = False

    # -- what every shape shares -----------------------------------------------------

    def _prepare(self) -> None:
        """A copy of the hub's code readable by www-data, a hub.conf on a clone of the
        seeded database, and a socket directory www-data may reach."""
        if self._prepared:
            return
        hub = self.kojihub
        source = sdist.find()
        if source is None:
            raise ShapeUnavailable(f"koji {sdist.VERSION} sdist not unpacked; {FIX}")
        code = self.dir / "koji-src"
        for part in ("koji", "hub"):
            shutil.copytree(source / part, code / part)
        for path in [code, *code.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        hub.cluster.psql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE);",
                         "postgres", "postgres")
        hub.cluster.psql(f"CREATE DATABASE {DATABASE} TEMPLATE koji_seeded OWNER koji;",
                         "postgres", "postgres")
        # The cluster's socket lives in its 0700 directory; www-data must be able to reach it.
        hub.cluster.socket_dir.chmod(0o711)
        (self.dir / "hub.conf.d").mkdir()
        options = {
            "DBName": DATABASE, "DBUser": "koji", "DBHost": str(hub.cluster.socket_dir),
            "KojiDir": str(hub.workdir / "koji"), "LoginCreatesUser": "True",
            "DisableNotifications": "True", "KojiTraceback": "normal",
            "DNUsernameComponent": "CN", "KojiWebURL": hub.weburl,
            "EmailDomain": "example.test",
        }
        conf = "[hub]\n" + "".join(f"{key} = {value}\n" for key, value in options.items())
        (self.dir / "hub.conf").write_text(conf)
        (self.dir / "hub.conf").chmod(0o644)
        self.code = code
        self._prepared = True

    def _dir(self, name: str) -> Path:
        path = self.dir / name
        path.mkdir(mode=0o755)
        path.chmod(0o755)
        return path

    def _start(self, name: str, build) -> Server:
        if name not in self.servers:
            self._prepare()
            server = build(self._dir(name))
            self.servers[name] = server
            try:
                server.wait_ready()
            except BaseException:
                server.stop()
                raise
        return self.servers[name]

    # -- the shapes --------------------------------------------------------------------

    def wsgiref(self) -> Server:
        """The hub under wsgiref: HTTP/1.0, one answer per connection, then closed."""
        return self._start("wsgiref", self._wsgiref)

    def _wsgiref(self, root: Path) -> Server:
        if not os.access(DEBIAN_PYTHON, os.X_OK):
            raise ShapeUnavailable(f"{DEBIAN_PYTHON} not found (package python3); {FIX}")
        ready = root / "server.json"
        log = root / "wsgiref.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [DEBIAN_PYTHON, str(WSGIREF_SERVER), "--sdist", str(self.code),
                 "--config", str(self.dir / "hub.conf"),
                 "--config-dir", str(self.dir / "hub.conf.d"), "--ready", str(ready)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                env=_clean_env(), cwd=root)
        deadline = time.monotonic() + 30
        while not ready.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                server = Server("wsgiref hub", "", proc, log)
                server.stop()
                raise ShapeUnavailable(f"wsgiref hub did not start: {server.last_error()}")
            time.sleep(0.02)
        port = json.loads(ready.read_text())["port"]
        return Server("wsgiref hub", f"http://127.0.0.1:{port}/kojihub", proc, log)

    def apache(self) -> Server:
        """The hub under apache2 + mod_wsgi, configured as koji's docs deploy it."""
        return self._start("apache", self._apache)

    def _apache(self, root: Path) -> Server:
        if not os.access(APACHE, os.X_OK):
            raise ShapeUnavailable(f"{APACHE} not found (package apache2); {FIX}")
        if not (APACHE_MODULES / "mod_wsgi.so").exists():
            raise ShapeUnavailable(f"{APACHE_MODULES}/mod_wsgi.so not found "
                                   f"(package libapache2-mod-wsgi-py3); {FIX}")
        port = free_port()
        (root / "run").mkdir()
        modules = ["mpm_event", "authz_core", "alias", "env", "wsgi"]
        loads = "".join(f"LoadModule {name}_module {APACHE_MODULES}/mod_{name}.so\n"
                        for name in modules)
        user = "" if os.geteuid() else "User www-data\nGroup www-data\n"
        code = self.code
        (root / "httpd.conf").write_text(f"""\
ServerRoot "{root}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile {root}/httpd.pid
DefaultRuntimeDir {root}/run
ErrorLog {root}/error.log
LogLevel warn
LogFormat "%h:%{{remote}}p \\"%r\\" %>s keepalive=%k %D" reuse
CustomLog {root}/access.log reuse
{loads}{user}
KeepAlive On
KeepAliveTimeout {APACHE_KEEPALIVE:g}
MaxKeepAliveRequests 5
Timeout 60

WSGISocketPrefix {root}/run/wsgi
WSGIDaemonProcess koji processes=2 threads=4 display-name=koji-hub-test \\
    python-path={code}/hub:{code}
WSGIProcessGroup koji
WSGIApplicationGroup %{{GLOBAL}}
WSGIScriptReloading Off
WSGIScriptAlias /kojihub {code}/hub/kojixmlrpc.py

<Directory "{code}/hub">
    SetEnv koji.hub.ConfigFile {self.dir}/hub.conf
    SetEnv koji.hub.ConfigDir {self.dir}/hub.conf.d
    Require all granted
</Directory>
""")
        log = root / "error.log"
        with (root / "apache2.out").open("ab") as out:
            proc = subprocess.Popen([APACHE, "-f", str(root / "httpd.conf"), "-DFOREGROUND"],
                                    stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, env=_clean_env(), cwd=root)
        return Server("apache2 hub", f"http://127.0.0.1:{port}/kojihub", proc, log,
                      keepalive=APACHE_KEEPALIVE)

    def nginx(self) -> Server:
        """nginx in front of the apache hub, closing client connections idle for 1 s."""
        backend = self.apache()
        return self._start("nginx", lambda root: self._nginx(root, backend))

    def _nginx(self, root: Path, backend: Server) -> Server:
        if not os.access(NGINX, os.X_OK):
            raise ShapeUnavailable(f"{NGINX} not found (package nginx); {FIX}")
        port = free_port()
        temp = root / "temp"
        temp.mkdir()
        paths = "".join(f"    {kind}_temp_path {temp}/{kind};\n"
                        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        upstream = backend.url.rsplit("/", 1)[0]
        (root / "nginx.conf").write_text(f"""\
daemon off;
master_process on;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 256; }}
http {{
{paths}    log_format reuse '$remote_addr "$request" $status conn=$connection '
                     'n=$connection_requests $request_time';
    access_log {root}/access.log reuse;
    keepalive_timeout {NGINX_KEEPALIVE:g}s;
    keepalive_requests 20;
    client_body_buffer_size 1m;
    server {{
        listen 127.0.0.1:{port};
        location /kojihub {{
            proxy_pass {upstream};
            proxy_read_timeout 60s;
        }}
    }}
}}
""")
        log = root / "error.log"
        with (root / "nginx.out").open("ab") as out:
            proc = subprocess.Popen(
                [NGINX, "-p", str(root), "-e", str(log), "-c", str(root / "nginx.conf")],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                env=_clean_env(), cwd=root)
        return Server("nginx proxy", f"http://127.0.0.1:{port}/kojihub", proc, log,
                      keepalive=NGINX_KEEPALIVE)

    def stop(self) -> None:
        """Stop every server by its pid (proxies first), drop the database and directory."""
        for name in ("nginx", "apache", "wsgiref"):
            server = self.servers.pop(name, None)
            if server is not None:
                server.stop()
        if self._prepared:
            try:
                self.kojihub.cluster.psql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE);",
                                          "postgres", "postgres")
            except RuntimeError:
                pass
        if os.environ.get("KOJIBOT_KEEP_HUB"):
            print(f"KOJIBOT_KEEP_HUB: kept {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


# -- fixtures (registered by tests/peers/conftest.py) ------------------------------------------


@pytest.fixture(scope="session")
def hub_shapes(kojihub):
    """The session's Shapes; the shape fixtures below start servers on first use."""
    shapes = Shapes(kojihub)
    yield shapes
    shapes.stop()


def _shape(shapes: Shapes, name: str) -> Server:
    try:
        return getattr(shapes, name)()
    except ShapeUnavailable as exc:
        pytest.fail(f"hub server shape {name} unavailable: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def wsgiref_hub(hub_shapes) -> Server:
    """The seeded hub under Python's wsgiref (HTTP/1.0, closes after every answer)."""
    return _shape(hub_shapes, "wsgiref")


@pytest.fixture(scope="session")
def apache_hub(hub_shapes) -> Server:
    """The seeded hub under apache2 + mod_wsgi (KeepAliveTimeout 2, 5 requests a connection)."""
    return _shape(hub_shapes, "apache")


@pytest.fixture(scope="session")
def nginx_hub(hub_shapes) -> Server:
    """nginx (keepalive_timeout 1 s) in front of the apache hub."""
    return _shape(hub_shapes, "nginx")
