"""Real IRC servers for integration tests: ngircd and inspircd (+ atheme services), on loopback.

Each server writes its config under a private temp dir, listens on free 127.0.0.1 ports,
and can be stopped and started again on the same ports (for reconnect tests).
ngircd also serves TLS with a certificate from a throwaway test CA; inspircd runs with
fakelag and the connect-class limits measured in /work/shared/PEERS.md, and links atheme
so that SASL (PLAIN, and EXTERNAL with a client certificate on its TLS port) and services
accounts are real.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.kojihub.pki import TestCA
from tests.processes import terminate

HOST = "127.0.0.1"
PACKAGES = {"ngircd": "ngircd", "inspircd": "inspircd", "atheme-services": "atheme-services"}


class IRCdUnavailable(Exception):
    """A server binary is missing or the server did not come up; the message says why."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def require(binary: str) -> str:
    path = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/usr/bin")
    if not path:
        raise IRCdUnavailable(f"{binary} not found: install Debian package "
                              f"{PACKAGES[binary]} (run tests/install-deps)")
    return path


def wait_for_port(port: int, process: subprocess.Popen, log: Path, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise IRCdUnavailable(f"{log.stem} exited with {process.returncode}: "
                                  f"{_tail(log)}")
        try:
            socket.create_connection((HOST, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.005)
    raise IRCdUnavailable(f"{log.stem} did not listen on {HOST}:{port} in {timeout} s")


def _tail(log: Path) -> str:
    lines = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
    return " | ".join(lines[-3:]) or "(no output)"


class Daemon:
    """One foreground server process, restartable on the same ports."""

    name = "daemon"

    def __init__(self, workdir: Path):
        self.dir = workdir
        self.log = workdir / f"{self.name}.log"
        self.process: subprocess.Popen | None = None
        self.log_offset = 0

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> None:
        """Block until the server serves clients."""

    def start(self) -> None:
        if self.process and self.process.poll() is None:
            return
        self.log_offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.command(), stdout=out, stderr=subprocess.STDOUT, cwd=self.dir,
                preexec_fn=_no_core_dumps)
        self.ready()

    def stop(self) -> None:
        """SIGTERM and wait; the exit code is ignored (inspircd may crash on the way out)."""
        process, self.process = self.process, None
        terminate(process)

    def pause(self) -> None:
        """Freeze the process (SIGSTOP): connections stay open but nothing answers."""
        assert self.process
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process
        self.process.send_signal(signal.SIGCONT)


def _no_core_dumps() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


class NgIRCd(Daemon):
    """ngircd 26: plain on ``port``, TLS on ``tls_port`` (certificate from ``ca_file``)."""

    name = "ngircd"

    def __init__(self, workdir: Path):
        super().__init__(workdir)
        self.binary = require("ngircd")
        self.port, self.tls_port = free_port(), free_port()
        ca = TestCA(workdir / "ca")
        cert, key = ca.server()
        self.ca_file = ca.cert
        dh = workdir / "dh.pem"
        subprocess.run(["openssl", "genpkey", "-genparam", "-algorithm", "DH",
                        "-pkeyopt", "group:ffdhe2048", "-out", str(dh)], check=True,
                       capture_output=True)
        self.config = workdir / "ngircd.conf"
        self.config.write_text(
            "[Global]\nName = irc.ngircd.test\nInfo = kojibot tests\n"
            f"Listen = {HOST}\nPorts = {self.port}\nMotdPhrase = kojibot tests\n"
            "AdminInfo1 = kojibot tests\nAdminEMail = root@localhost\n"
            "[Limits]\nMaxConnectionsIP = 0\nMaxNickLength = 30\nPingTimeout = 120\n"
            "[Options]\nDNS = no\nIdent = no\nPAM = no\n"
            f"[SSL]\nCertFile = {cert}\nKeyFile = {key}\nDHFile = {dh}\n"
            f"Ports = {self.tls_port}\n")

    def command(self) -> list[str]:
        return [self.binary, "-n", "-f", str(self.config)]

    def ready(self) -> None:
        assert self.process
        wait_for_port(self.port, self.process, self.log)
        wait_for_port(self.tls_port, self.process, self.log)


class Atheme(Daemon):
    """atheme services linked to an inspircd: NickServ accounts (with CERT), SASL PLAIN and
    EXTERNAL."""

    name = "atheme"
    server_name = "services.kojibot.test"

    def __init__(self, workdir: Path, link_port: int, ircd_name: str, password: str):
        super().__init__(workdir)
        self.binary = require("atheme-services")
        self.data = workdir / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.config = workdir / "atheme.conf"
        modules = ["protocol/inspircd", "backend/opensex", "crypto/pbkdf2v2", "nickserv/main",
                   "nickserv/identify", "nickserv/register", "nickserv/cert", "saslserv/main",
                   "saslserv/plain", "saslserv/external"]
        agents = "".join(
            f'{service} {{ nick = "{nick}"; user = "{nick}"; host = "{self.server_name}"; '
            f'real = "{nick}"; }};\n' for service, nick in
            (("nickserv", "NickServ"), ("saslserv", "SaslServ")))
        self.config.write_text(
            "".join(f'loadmodule "modules/{module}";\n' for module in modules)
            + f'serverinfo {{ name = "{self.server_name}"; desc = "kojibot tests"; '
            'numeric = "0KB"; recontime = 1; netname = "KojibotTest"; '
            'hidehostsuffix = "users.test"; adminname = "tests"; adminemail = "root@localhost"; '
            'registeremail = "root@localhost"; mta = "/bin/true"; '
            "loglevel = { error; info; admin; network; }; maxlogins = 5; maxusers = 5; "
            "mdlimit = 30; emaillimit = 10; emailtime = 300; auth = none; "
            "casemapping = rfc1459; };\n"
            f'uplink "{ircd_name}" {{ host = "{HOST}"; password = "{password}"; '
            f"port = {link_port}; }};\n" + agents
            + 'general { helpchan = "#help"; flood_msgs = 0; flood_time = 10; '
            "kline_time = 7; commit_interval = 5; default_clone_allowed = 100; "
            "default_clone_warn = 90; clone_time = 0; uplink_sendq_limit = 1048576; "
            'language = "en"; };\ndatabase { };\n')

    def command(self) -> list[str]:
        return [self.binary, "-n", "-c", str(self.config), "-D", str(self.data),
                "-l", str(self.dir / "atheme-services.log"), "-p", str(self.dir / "atheme.pid")]

    def ready(self, timeout: float = 10) -> None:
        assert self.process
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise IRCdUnavailable(f"atheme exited with {self.process.returncode}: "
                                      f"{_tail(self.log)}")
            with self.log.open("rb") as log:
                log.seek(self.log_offset)
                if b"finished synching with uplink" in log.read():
                    return
            time.sleep(0.02)
        raise IRCdUnavailable(f"atheme did not link to inspircd in {timeout} s: {_tail(self.log)}")


class UnthrottledNgIRCd(NgIRCd):
    """ngircd with its flood penalty off (it otherwise holds a client to ~3 lines/s): for
    timings that must be the bot's own, not the server's throttle."""

    def __init__(self, workdir: Path):
        super().__init__(workdir)
        text = self.config.read_text()
        self.config.write_text(text.replace("[Limits]\n", "[Limits]\nMaxPenaltyTime = 0\n"))


class InspIRCd(Daemon):
    """inspircd 3 with fakelag, IRCv3 caps (echo-message, message-tags, server-time), bot mode
    (+B, ``BOT=B``), +c (blockcolor) and atheme for SASL.

    ``port``: the connect class of PEERS.md (10 lines free, then 1 line/s, recvq 10K).
    ``fast_port``: the same rules, scaled to ``FAST_BURST`` free then ``FAST_RATE`` lines/s,
    so a flood test finishes in seconds and still meets a real limit.
    ``locked_port``: like ``port``, but asks for the server password ``PASSWORD``.
    ``tls_port``: like ``port``, over TLS (certificate from ``ca_file``); a client
    certificate's fingerprint reaches atheme (CertFP, SASL EXTERNAL).
    """

    name = "inspircd"
    server_name = "irc.inspircd.test"
    FAST_BURST, FAST_RATE = 20, 20
    PASSWORD = "letmein"

    def __init__(self, workdir: Path, services: bool = True):
        super().__init__(workdir)
        self.binary = require("inspircd")
        self.port, self.fast_port, self.locked_port, self.link_port, self.tls_port = (
            free_port(), free_port(), free_port(), free_port(), free_port())
        self.ca = TestCA(workdir / "ca")
        cert, key = self.ca.server()
        self.ca_file = self.ca.cert
        link_password = os.urandom(8).hex()
        self.atheme = (Atheme(workdir / "atheme", self.link_port, self.server_name,
                              link_password) if services else None)
        modules = ["cap", "ircv3", "ircv3_accounttag", "ircv3_echomessage", "ircv3_ctctags",
                   "ircv3_servertime", "botmode", "namesx", "blockcolor", "services_account",
                   "svshold", "spanningtree", "sasl", "ssl_gnutls", "sslinfo"]
        common = ('timeout="20" pingfreq="120" hardsendq="1M" softsendq="10240" recvq="10K" '
                  'fakelag="yes" localmax="1000" globalmax="1000" resolvehostnames="no" '
                  'useident="no" limit="5000"')
        self.config = workdir / "inspircd.conf"
        self.config.write_text(
            f'<server name="{self.server_name}" description="kojibot tests" '
            'network="KojibotTest" id="1KB">\n'
            '<admin name="tests" nick="tests" email="root@localhost">\n'
            f'<bind address="{HOST}" port="{self.port}" type="clients">\n'
            f'<bind address="{HOST}" port="{self.fast_port}" type="clients">\n'
            f'<bind address="{HOST}" port="{self.locked_port}" type="clients">\n'
            f'<bind address="{HOST}" port="{self.link_port}" type="servers">\n'
            f'<bind address="{HOST}" port="{self.tls_port}" type="clients" sslprofile="tests">\n'
            f'<sslprofile name="tests" provider="gnutls" certfile="{cert}" keyfile="{key}" '
            'requestclientcert="yes" hash="sha256">\n'
            f'<connect name="tls" allow="*" port="{self.tls_port}" threshold="10" '
            f'commandrate="1000" {common}>\n'
            f'<connect name="fast" allow="*" port="{self.fast_port}" '
            f'threshold="{self.FAST_BURST}" commandrate="{self.FAST_RATE * 1000}" {common}>\n'
            f'<connect name="locked" allow="*" port="{self.locked_port}" '
            f'password="{self.PASSWORD}" threshold="10" commandrate="1000" {common}>\n'
            f'<connect name="main" allow="*" port="{self.port}" threshold="10" '
            f'commandrate="1000" {common}>\n'
            f'<pid file="{workdir / "inspircd.pid"}">\n'
            f'<dns server="{HOST}" timeout="1">\n<options>\n<security>\n<performance>\n'
            f'<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" '
            f'target="{workdir / "inspircd-events.log"}">\n'
            + "".join(f'<module name="{module}">\n' for module in modules)
            + f'<sasl target="{Atheme.server_name}">\n'
            f'<link name="{Atheme.server_name}" ipaddr="{HOST}" port="{self.link_port}" '
            f'allowmask="{HOST}/32" sendpass="{link_password}" recvpass="{link_password}">\n'
            f'<uline server="{Atheme.server_name}" silent="yes">\n')

    def command(self) -> list[str]:
        return [self.binary, f"--config={self.config}", "--nofork", "--runasroot"]

    def ready(self) -> None:
        assert self.process
        for port in (self.port, self.fast_port, self.locked_port, self.link_port, self.tls_port):
            wait_for_port(port, self.process, self.log)

    def start(self) -> None:
        super().start()
        if self.atheme:
            self.atheme.start()

    def stop(self) -> None:
        if self.atheme:
            self.atheme.stop()
        super().stop()


def start(kind: type[Daemon]) -> Daemon:
    """A started server of *kind* in a fresh temp dir (removed by ``cleanup``)."""
    workdir = Path(tempfile.mkdtemp(prefix=f"kojibot-{kind.name}-"))
    server = None
    try:
        server = kind(workdir)
        atexit.register(server.stop)  # even if the session ends without teardown
        server.start()
    except BaseException:
        if server:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return server


def cleanup(server: Daemon) -> None:
    server.stop()
    shutil.rmtree(server.dir, ignore_errors=True)
