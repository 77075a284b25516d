"""``[matrix]``: MatrixSettings, as the Matrix adapter takes it."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

from kojibot.adapters.matrix import recoverykey
from kojibot.config.fields import REQUIRED, Section, http_url, lines, one_of, setting, words, yes_no

MATRIX_USER = re.compile(r"@[^:\s]+:[^\s]+")
# "@user:server", then optionally the master key (43 base64 characters, spaces allowed).
TRUSTED_IDENTITY = re.compile(r"@[^:\s]+:\S+(?P<key>(?:\s+[A-Za-z0-9+/]+)*)")


def matrix_user(value: str) -> str:
    if not MATRIX_USER.fullmatch(value):
        raise ValueError("expected a Matrix user id like @kojibot:example.org")
    return value


def server_of(user_id: str) -> str:
    """``@alice:example.org`` → ``example.org``."""
    return user_id.split(":", 1)[1] if ":" in user_id else ""


@dataclass(frozen=True)
class MatrixSettings(Section):
    """The ``[matrix]`` section (see bot.example.ini). Secrets stay out of repr and logs."""

    NAME = "matrix"
    homeserver: str = setting(REQUIRED, http_url, "the homeserver's client API URL")
    user_id: str = setting(REQUIRED, matrix_user, "the bot's Matrix account")
    password: str | None = setting(None, str, "log in with this password ...", secret=True)
    access_token: str | None = setting(None, str, "... or with this access token", secret=True)
    device_name: str = setting("kojibot", str, "the device name a password login shows")
    rooms: tuple[str, ...] = setting((), words, "rooms to join at start: ids or aliases")
    auto_join: tuple[str, ...] = setting((), words, "whose invites the bot accepts (default: "
                                         "its own server's people)")
    tls_verify: bool = setting(True, yes_no, "verify the homeserver's TLS certificate")
    encryption: str = setting("tofu", one_of("tofu", "verified", "refuse"),
                              "whom encrypted rooms trust: tofu, verified or refuse")
    trusted_identities: tuple[str, ...] = setting((), lines, "encryption = verified: "
                                                  '"@user:server [master key]" entries')
    recovery_key_file: str | None = setting(None, str, "file of the identity's recovery key "
                                            "(default: beside the crypto store)")
    recovery_key_env: str | None = setting(None, str, "environment variable that may hold "
                                           "the recovery key")

    @property
    def server(self) -> str:
        return server_of(self.user_id)

    @property
    def localpart(self) -> str:
        return self.user_id[1:].split(":", 1)[0]

    def problems(self) -> list[tuple[str, str]]:
        found = []
        if bool(self.password) == bool(self.access_token):
            found.append(("password", "give matrix.password or matrix.access_token "
                                      "(one of them)"))
        for room in self.rooms:
            if room[:1] not in "!#" or ":" not in room:
                found.append(("rooms", f"{room!r} is not a room id (!id:server) or "
                                       "alias (#name:server)"))
        for entry in self.auto_join:
            if (entry[:1] == "@" and not MATRIX_USER.fullmatch(entry)) or entry[:1] in "!#":
                found.append(("auto_join", f"{entry!r} is not anyone, a user id "
                                           "(@name:server) or a server name"))
        for entry in self.trusted_identities:
            match = TRUSTED_IDENTITY.fullmatch(entry)
            if match is None or len("".join(match["key"].split())) not in (0, 43):
                found.append(("trusted_identities", f"{entry!r} is not '@user:server' "
                                                    "(optionally followed by the master key)"))
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, str) and recoverykey.looks_like(value):
                found.append((field.name, "holds a recovery key, which never goes in this "
                              "file: put it in the file recovery_key_file names (or the "
                              "environment variable recovery_key_env names)"))
        return found
