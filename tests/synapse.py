"""A real Synapse homeserver for the Matrix tests, and a scripted Matrix user.

Synapse comes from PyPI into its own venv under the test cache (``python -m tests.synapse
install``, run by tests/install-deps; ~220 MB), so its many dependencies never meet the
project's. One server per test session: SQLite, a free 127.0.0.1 port, no federation, rate
limits lifted (one user's can be lowered again through the admin API, for the 429 test),
cheap password hashing. Users are registered with the shared secret, as an admin would.
``stop()``/``start()`` restart it on the same port with the same data.

``MatrixUser`` is a person in a Matrix client, written on treq against the client-server
API, independent of matrix-nio (which the bot uses): it creates rooms, talks, and waits
for what the bot says.
"""

from __future__ import annotations

import atexit
import base64
import fcntl
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from itertools import count
from pathlib import Path

import treq
from twisted.internet import reactor, task

from tests.ircd import free_port
from tests.kojihub.sdist import cache_dir
from tests.processes import terminate

VERSION = "1.163.2"
FIX = "run tests/install-deps"
HOST = "127.0.0.1"
SERVER_NAME = "localhost"
LIFTED = "{per_second: 1000, burst_count: 1000}"


class SynapseUnavailable(Exception):
    """Synapse is not installed or did not come up; the message is one line saying why."""


def venv_dir() -> Path:
    return cache_dir() / f"synapse-venv-{VERSION}"


def python() -> str:
    """The venv's python, if Synapse is installed there."""
    root = venv_dir()
    if not (root / ".complete").exists():
        raise SynapseUnavailable(f"matrix-synapse {VERSION} is not installed in {root}; {FIX}")
    return str(root / "bin" / "python")


def install() -> str:
    """Make the venv with Synapse (~20-40 s) unless it is there; its python."""
    root = venv_dir()
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f"{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test run may be installing right now
        if (root / ".complete").exists():
            return python()
        shutil.rmtree(root, ignore_errors=True)
        for cmd in ([sys.executable, "-m", "venv", str(root)],
                    [str(root / "bin" / "python"), "-m", "pip", "install", "-q",
                     "--disable-pip-version-check", f"matrix-synapse=={VERSION}"]):
            run = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
            if run.returncode:
                last = (run.stderr.strip() or run.stdout.strip() or "no output").splitlines()[-1]
                raise SynapseUnavailable(f"{' '.join(cmd[:4])} failed: {last[:300]}")
        (root / ".complete").touch()
    return python()


def _signing_key() -> str:
    seed = base64.b64encode(os.urandom(32)).decode().rstrip("=")
    return f"ed25519 a_test {seed}\n"


def homeserver_yaml(workdir: Path, port: int, secret: str) -> str:
    limits = "\n".join(f"{key}: {LIFTED}" for key in
                       ("rc_message", "rc_registration", "rc_room_creation"))
    nested = {"rc_login": ("address", "account", "failed_attempts"),
              "rc_joins": ("local", "remote"),
              "rc_invites": ("per_room", "per_user", "per_issuer")}
    for key, subkeys in nested.items():
        limits += f"\n{key}:\n" + "".join(f"  {sub}: {LIFTED}\n" for sub in subkeys)
    return f"""\
server_name: "{SERVER_NAME}"
pid_file: {workdir}/homeserver.pid
listeners:
  - port: {port}
    bind_addresses: ['{HOST}']
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: {workdir}/homeserver.db
log_config: {workdir}/log.yaml
media_store_path: {workdir}/media
signing_key_path: {workdir}/signing.key
registration_shared_secret: "{secret}"
macaroon_secret_key: "{secret}-macaroon"
form_secret: "{secret}-form"
report_stats: false
enable_metrics: false
presence:
  enabled: false
bcrypt_rounds: 4
trusted_key_servers: []
federation_domain_whitelist: []
suppress_key_server_warning: true
{limits}
"""


def log_yaml(workdir: Path) -> str:
    return f"""\
version: 1
formatters:
  plain: {{format: '%(asctime)s %(name)s %(levelname)s %(message)s'}}
handlers:
  file: {{class: logging.FileHandler, filename: {workdir}/homeserver.log, formatter: plain}}
root: {{level: WARNING, handlers: [file]}}
disable_existing_loggers: false
"""


class Synapse:
    """One homeserver: ``url``, ``register()``, ``admin_call()``, ``stop/start``, ``cleanup``."""

    def __init__(self, workdir: Path):
        self.python = python()
        self.dir = workdir
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.secret = base64.urlsafe_b64encode(os.urandom(18)).decode()
        self.config = workdir / "homeserver.yaml"
        self.config.write_text(homeserver_yaml(workdir, self.port, self.secret))
        (workdir / "log.yaml").write_text(log_yaml(workdir))
        (workdir / "signing.key").write_text(_signing_key())
        self.process: subprocess.Popen | None = None
        self.timings: dict[str, float] = {}
        self._admin: str | None = None
        self._names = count(1)

    def start(self, timeout: float = 60) -> Synapse:
        started = time.monotonic()
        with open(self.dir / "stdout.log", "ab") as out:
            self.process = subprocess.Popen(
                [self.python, "-m", "synapse.app.homeserver", "-c", str(self.config)],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.dir, start_new_session=True)
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SynapseUnavailable(f"synapse exited with {self.process.returncode}: "
                                         f"{self._tail()}")
            try:
                urllib.request.urlopen(f"{self.url}/_matrix/client/versions", timeout=1).close()
            except OSError:
                time.sleep(0.05)
                continue
            self.timings.setdefault("first start", time.monotonic() - started)
            self.timings["last start"] = time.monotonic() - started
            return self
        self.stop()
        raise SynapseUnavailable(f"synapse did not answer on {self.url} in {timeout:.0f} s")

    def stop(self) -> None:
        process, self.process = self.process, None
        terminate(process, grace=15)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _tail(self) -> str:
        for name in ("homeserver.log", "stdout.log"):
            lines = (self.dir / name).read_text(errors="replace").strip().splitlines() \
                if (self.dir / name).exists() else []
            if lines:
                return lines[-1][:300]
        return "no output"

    def _http(self, method: str, path: str, body: dict | None = None,
              token: str | None = None) -> dict:
        request = urllib.request.Request(
            self.url + path, method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json",
                     **({"Authorization": f"Bearer {token}"} if token else {})})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{method} {path}: {exc.code} {exc.read()[:300]!r}") from None

    def register(self, name: str | None = None, password: str = "secret-pw",
                 admin: bool = False) -> dict:
        """A new user by the shared secret: ``user_id``, ``access_token``, ``password``..."""
        name = name or f"user{next(self._names)}"
        nonce = self._http("GET", "/_synapse/admin/v1/register")["nonce"]
        message = "\0".join([nonce, name, password, "admin" if admin else "notadmin"])
        mac = hmac.new(self.secret.encode(), message.encode(), hashlib.sha1).hexdigest()
        account = self._http("POST", "/_synapse/admin/v1/register", {
            "nonce": nonce, "username": name, "password": password, "admin": admin,
            "mac": mac})
        return {**account, "password": password, "name": name}

    def admin_call(self, method: str, path: str, body: dict | None = None) -> dict:
        if self._admin is None:
            self._admin = self.register(f"admin-{os.getpid()}", admin=True)["access_token"]
        return self._http(method, path, body, token=self._admin)

    def limit_messages(self, user_id: str, per_second: int, burst: int) -> None:
        """Lower one user's message rate limit (0, 0 lifts it altogether)."""
        self.admin_call("POST", f"/_synapse/admin/v1/users/{_q(user_id)}/override_ratelimit",
                        {"messages_per_second": per_second, "burst_count": burst})

    def user(self, account: dict) -> MatrixUser:
        return MatrixUser(self.url, account["user_id"], account["access_token"])


def start() -> Synapse:
    workdir = Path(tempfile.mkdtemp(prefix="kojibot-synapse-"))
    try:
        server = Synapse(workdir).start()
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    atexit.register(server.cleanup)
    return server


def _q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


async def sleep(seconds: float) -> None:
    await task.deferLater(reactor, seconds)


class MatrixUser:
    """Someone in a Matrix client: raw client-server API calls over treq."""

    def __init__(self, url: str, user_id: str, token: str):
        self.url, self.user_id, self.token = url, user_id, token
        self._txn = count(1)
        self._since: str | None = None

    async def call(self, method: str, path: str, body: dict | None = None,
                   **params: str) -> dict:
        response = await treq.request(
            method, self.url + "/_matrix/client/v3" + path, params=params or None,
            headers={"Authorization": f"Bearer {self.token}"},
            json=body if body is not None or method in ("POST", "PUT") else None, timeout=30)
        data = await response.json()
        if response.code != 200:
            raise AssertionError(f"{method} {path}: {response.code} {data}")
        return data

    async def create_room(self, *, invite: tuple[str, ...] = (), is_direct: bool = False,
                          encrypted: bool = False, name: str | None = None) -> str:
        body: dict = {"preset": "private_chat", "invite": list(invite), "is_direct": is_direct}
        if name:
            body["name"] = name
        if encrypted:
            body["initial_state"] = [{"type": "m.room.encryption", "state_key": "",
                                      "content": {"algorithm": "m.megolm.v1.aes-sha2"}}]
        return (await self.call("POST", "/createRoom", body))["room_id"]

    async def join(self, room_id: str) -> None:
        await self.call("POST", f"/join/{_q(room_id)}", {})

    async def invite(self, room_id: str, user_id: str) -> None:
        await self.call("POST", f"/rooms/{_q(room_id)}/invite", {"user_id": user_id})

    async def kick(self, room_id: str, user_id: str, reason: str = "") -> None:
        await self.call("POST", f"/rooms/{_q(room_id)}/kick",
                        {"user_id": user_id, "reason": reason})

    async def send(self, room_id: str, body: str, msgtype: str = "m.text") -> str:
        path = f"/rooms/{_q(room_id)}/send/m.room.message/t{next(self._txn)}-{time.time()}"
        return (await self.call("PUT", path, {"msgtype": msgtype, "body": body}))["event_id"]

    async def set_state(self, room_id: str, kind: str, content: dict) -> None:
        await self.call("PUT", f"/rooms/{_q(room_id)}/state/{kind}/", content)

    async def set_power(self, room_id: str, user_id: str, level: int) -> None:
        levels = await self.call("GET", f"/rooms/{_q(room_id)}/state/m.room.power_levels/")
        levels.setdefault("users", {})[user_id] = level
        await self.set_state(room_id, "m.room.power_levels", levels)

    async def enable_encryption(self, room_id: str) -> None:
        await self.set_state(room_id, "m.room.encryption", {"algorithm": "m.megolm.v1.aes-sha2"})

    async def members(self, room_id: str) -> dict[str, str]:
        """user id → membership."""
        chunk = (await self.call("GET", f"/rooms/{_q(room_id)}/members"))["chunk"]
        return {event["state_key"]: event["content"]["membership"] for event in chunk}

    async def messages(self, room_id: str, limit: int = 100) -> list[dict]:
        """The room's latest events, oldest first."""
        data = await self.call("GET", f"/rooms/{_q(room_id)}/messages", dir="b",
                               limit=str(limit))
        return list(reversed(data["chunk"]))

    async def wait_event(self, room_id: str, match, timeout: float = 20) -> dict:
        """The first event of the room's latest ones that ``match`` accepts."""
        deadline = time.monotonic() + timeout
        while True:
            for event in await self.messages(room_id):
                if match(event):
                    return event
            if time.monotonic() > deadline:
                raise AssertionError(f"no matching event in {room_id} within {timeout} s")
            await sleep(0.1)

    async def wait_member(self, room_id: str, user_id: str, membership: str = "join",
                          timeout: float = 20) -> dict:
        """The event that gave *user_id* this membership in the room."""
        return await self.wait_event(room_id, lambda event: (
            event["type"] == "m.room.member" and event["state_key"] == user_id
            and event["content"].get("membership") == membership), timeout)

    async def wait_invite(self, sender: str, timeout: float = 20) -> tuple[str, dict]:
        """A room ``sender`` invites us to (from /sync): its id and our invite's content."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            params = {"timeout": "1000"}
            if self._since:
                params["since"] = self._since
            data = await self.call("GET", "/sync", **params)
            self._since = data["next_batch"]
            for room_id, room in data.get("rooms", {}).get("invite", {}).items():
                for event in room["invite_state"]["events"]:
                    if (event["type"] == "m.room.member" and event["sender"] == sender
                            and event["state_key"] == self.user_id):
                        return room_id, event["content"]
        raise AssertionError(f"no invite from {sender} within {timeout} s")


def from_bot(bot_id: str, msgtype: str = "m.notice"):
    """A matcher for the bot's messages (``m.notice`` by default)."""
    return lambda event: (event["sender"] == bot_id and event["type"] == "m.room.message"
                          and event["content"].get("msgtype") == msgtype)


def main(argv: list[str]) -> int:
    if argv != ["install"]:
        print("usage: python -m tests.synapse install", file=sys.stderr)
        return 2
    try:
        print(install())
    except SynapseUnavailable as exc:
        print(f"synapse install: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
