"""A private RabbitMQ node for integration tests: its own epmd, ports and files, on loopback.

Debian's rabbitmq-server runs from a temp dir with every path, port and the node name set
in the environment, so it never meets the system instance. ``rabbitmq_amqp1_0`` is enabled,
so the same port speaks AMQP 0-9-1 (the bot) and 1.0 (koji's protonmsg plugin). A TLS port
(certificate from a throwaway CA) takes client certificates: SASL EXTERNAL logs one with
CN=guest in as guest. ``stop()`` and ``start()`` restart the node on the same ports with the
same data: durable queues and persistent messages survive. ``cleanup()`` ends the node and
the epmd started for it, by pid.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

from tests.kojihub.pki import TestCA

HOST = "127.0.0.1"
SBIN = Path("/usr/lib/rabbitmq/bin")
SERVER, CTL = SBIN / "rabbitmq-server", SBIN / "rabbitmqctl"
FIX = "install Debian package rabbitmq-server (run tests/install-deps)"
LOOPBACK_ONLY = "-kernel inet_dist_use_interface {127,0,0,1}"


class RabbitMQUnavailable(Exception):
    """The broker is not installed or did not come up; the message is one line."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _wait(process: subprocess.Popen, timeout: float) -> None:
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def require() -> str:
    """The epmd binary, once the broker's programs are known to be there."""
    for path in (SERVER, CTL):
        if not os.access(path, os.X_OK):
            raise RabbitMQUnavailable(f"{path} not found: {FIX}")
    epmd = shutil.which("epmd")
    if not epmd:
        raise RabbitMQUnavailable(f"epmd not found (package erlang-base): {FIX}")
    return epmd


class RabbitMQ:
    """One node: ``url`` (guest on the default vhost), ``tls_url``, ``ctl()``, ``stop/start``."""

    def __init__(self, workdir: Path):
        self.epmd_binary = require()
        self.dir = workdir
        self.port, self.tls_port = free_port(), free_port()
        self.dist_port, self.epmd_port = free_port(), free_port()
        self.node = f"kojibot-{os.getpid()}-{self.port}@localhost"
        self.pid_file = workdir / "rabbit.pid"
        self.log = workdir / "server.log"
        (workdir / "home").mkdir()
        ca = TestCA(workdir / "ca")
        server_cert, server_key = ca.server()
        self.ca_file = ca.cert
        self.client_cert, self.client_key = ca.client("guest")
        (workdir / "enabled_plugins").write_text(
            "[rabbitmq_amqp1_0,rabbitmq_auth_mechanism_ssl].\n")
        (workdir / "rabbitmq.conf").write_text(
            "loopback_users.guest = true\nlog.console = false\n"
            f"listeners.ssl.default = {HOST}:{self.tls_port}\n"
            f"ssl_options.cacertfile = {ca.cert}\nssl_options.certfile = {server_cert}\n"
            f"ssl_options.keyfile = {server_key}\nssl_options.verify = verify_peer\n"
            "ssl_options.fail_if_no_peer_cert = false\nssl_cert_login_from = common_name\n"
            "auth_mechanisms.1 = PLAIN\nauth_mechanisms.2 = AMQPLAIN\n"
            "auth_mechanisms.3 = EXTERNAL\n")
        (workdir / "rabbitmq-env.conf").write_text("")  # not /etc/rabbitmq's
        self.env = dict(
            os.environ, HOME=str(workdir / "home"), RABBITMQ_NODENAME=self.node,
            RABBITMQ_NODE_IP_ADDRESS=HOST, RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port), ERL_EPMD_ADDRESS=HOST,
            ERL_EPMD_PORT=str(self.epmd_port),
            RABBITMQ_MNESIA_BASE=str(workdir / "mnesia"), RABBITMQ_LOG_BASE=str(workdir / "log"),
            RABBITMQ_PID_FILE=str(self.pid_file),
            RABBITMQ_CONFIG_FILE=str(workdir / "rabbitmq.conf"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(workdir / "enabled_plugins"),
            RABBITMQ_CONF_ENV_FILE=str(workdir / "rabbitmq-env.conf"),
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=LOOPBACK_ONLY,
            RABBITMQ_CTL_ERL_ARGS=LOOPBACK_ONLY)
        self.env.pop("ERL_FLAGS", None)
        self.epmd: subprocess.Popen | None = None
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@{HOST}:{self.port}/%2F"

    @property
    def tls_url(self) -> str:
        """The TLS port; log in with ``client_cert``/``client_key`` (or guest's password)."""
        return f"amqps://{HOST}:{self.tls_port}/%2F"

    def start(self, timeout: float = 60) -> None:
        """Start the node (and its epmd) and return once it serves clients."""
        if self.epmd is None or self.epmd.poll() is not None:
            self.epmd = subprocess.Popen(
                [self.epmd_binary, "-port", str(self.epmd_port), "-address", HOST],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if self.process is not None and self.process.poll() is None:
            return
        self.pid_file.unlink(missing_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen([str(SERVER)], env=self.env, cwd=self.dir,
                                            stdin=subprocess.DEVNULL, stdout=out,
                                            stderr=subprocess.STDOUT)
        try:
            self.ctl("wait", "--timeout", str(timeout), str(self.pid_file), timeout=timeout + 10)
        except RabbitMQUnavailable as exc:
            tail = self.log.read_text(errors="replace").strip().splitlines()[-3:]
            raise RabbitMQUnavailable(f"node did not start: {exc} | {' | '.join(tail)}") from None

    def stop(self) -> None:
        """Stop the node gracefully (its script turns SIGTERM into a clean shutdown)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        _wait(process, 60)
        self._kill_orphan_vm()

    def _kill_orphan_vm(self) -> None:
        """The Erlang VM's pid (from its pid file) if it outlived the script: end it."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return
        try:
            if b"beam" in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.kill(pid, signal.SIGKILL)
        except OSError:
            pass

    def cleanup(self) -> None:
        """Stop the node and its epmd and remove the work directory. Safe to call twice."""
        atexit.unregister(self.cleanup)
        self.stop()
        epmd, self.epmd = self.epmd, None
        if epmd is not None and epmd.poll() is None:
            epmd.terminate()
            _wait(epmd, 10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def ctl(self, *args: str, timeout: float = 60) -> str:
        """Run rabbitmqctl against this node; its output, or RabbitMQUnavailable."""
        port = str(free_port())
        env = dict(self.env, RABBITMQ_CTL_DIST_PORT_MIN=port, RABBITMQ_CTL_DIST_PORT_MAX=port)
        try:
            run = subprocess.run([str(CTL), "-q", *args], env=env, cwd=self.dir,
                                 capture_output=True, text=True, timeout=timeout,
                                 stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise RabbitMQUnavailable(f"rabbitmqctl {args[0]} timed out") from None
        if run.returncode:
            last = (run.stderr.strip() or run.stdout.strip() or "no output").splitlines()[-1]
            raise RabbitMQUnavailable(f"rabbitmqctl {args[0]} failed: {last}")
        return run.stdout

    def queue_counts(self, name: str) -> tuple[int, int]:
        """(ready, unacknowledged) messages in queue *name*, as the broker counts them."""
        for line in self.ctl("list_queues", "name", "messages_ready",
                             "messages_unacknowledged").splitlines():
            fields = line.split("\t")
            if fields[0] == name:
                return int(fields[1]), int(fields[2])
        raise KeyError(name)


def start() -> RabbitMQ:
    """A started node in a fresh temp dir (``cleanup()`` removes everything)."""
    require()
    broker = RabbitMQ(Path(tempfile.mkdtemp(prefix="kojibot-rabbitmq-")))
    atexit.register(broker.cleanup)  # even if the session ends without teardown
    try:
        broker.start()
    except BaseException:
        broker.cleanup()
        raise
    return broker
