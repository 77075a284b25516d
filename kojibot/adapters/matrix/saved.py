"""What the Matrix adapter keeps between runs, in files next to ``[bot] state``.

``matrix-<user>.login.json``: the access token and device id a password login got, so a
restart does not log in again (and pile up devices). ``matrix-<user>.sync``: the last
``next_batch`` token whose events were handled, so a restart neither answers old commands
again nor misses those sent meanwhile. Both are written whole (temp file, then rename),
readable by the owner only (0600): the token is as good as the password.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from twisted.logger import Logger

from kojibot.adapters.matrix.rooms import safe_name

log = Logger(namespace="kojibot.matrix")


def write_private(path: Path, text: str) -> None:
    """Replace *path* with *text*, mode 0600, never leaving it half written."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an old temp file may have had another mode
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)


class SavedSession:
    """The login and the sync position of one account on one homeserver."""

    def __init__(self, directory: str | os.PathLike, user_id: str, homeserver: str):
        base = Path(directory) / f"matrix-{safe_name(user_id)}"
        self.login_path = base.with_name(base.name + ".login.json")
        self.sync_path = base.with_name(base.name + ".sync")
        self.user_id, self.homeserver = user_id, homeserver
        self._next_batch: str | None = None
        self._read_sync = False

    def credentials(self) -> tuple[str, str] | None:
        """The saved (device id, access token) for this account and homeserver, if any."""
        try:
            data = json.loads(self.login_path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warn("ignoring unreadable {path}: {why}", path=str(self.login_path), why=exc)
            return None
        if (not isinstance(data, dict) or data.get("user_id") != self.user_id
                or data.get("homeserver") != self.homeserver
                or not isinstance(data.get("access_token"), str)):
            return None
        return str(data.get("device_id") or ""), data["access_token"]

    def save_credentials(self, device_id: str, access_token: str) -> None:
        write_private(self.login_path, json.dumps({
            "homeserver": self.homeserver, "user_id": self.user_id,
            "device_id": device_id, "access_token": access_token}))

    def forget_credentials(self) -> None:
        self.login_path.unlink(missing_ok=True)

    @property
    def next_batch(self) -> str | None:
        if not self._read_sync:
            self._read_sync = True
            try:
                self._next_batch = self.sync_path.read_text().strip() or None
            except FileNotFoundError:
                self._next_batch = None
        return self._next_batch

    def save_next_batch(self, token: str) -> None:
        if token and token != self.next_batch:
            write_private(self.sync_path, token)
            self._next_batch = token
