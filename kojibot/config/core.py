"""``[bot]``, ``[koji]`` and ``[metrics]``: the sections every bot reads."""

from __future__ import annotations

import os
from dataclasses import dataclass

import platformdirs

from kojibot.config.fields import Section, count, lease, listen, positive, prefix, setting, words

PLUGINS = ("help", "task", "build", "user", "eta", "latest", "links", "subscriptions", "iam",
           "alerts", "watch", "why")
FEDORA = {
    "server": "https://koji.fedoraproject.org/kojihub",
    "weburl": "https://koji.fedoraproject.org/koji",
    "topurl": "https://kojipkgs.fedoraproject.org/",
}


def default_state_path() -> str:
    return os.path.join(platformdirs.user_data_dir("kojibot"), "state.sqlite3")


@dataclass(frozen=True)
class BotSettings(Section):
    """``[bot]``: commands, state and pacing."""

    NAME = "bot"
    prefix: str = setting("!", prefix, "characters that start a command in a channel")
    nick: str = setting("kojibot", str, "the bot's name on chat networks")
    admins: tuple[str, ...] = setting((), words, "accounts and user ids that are bot admins")
    ignore: tuple[str, ...] = setting((), words, "people the bot never answers (patterns)")
    plugins: tuple[str, ...] = setting(PLUGINS, words, "plugins to enable")
    state: str = setting(None, str, "SQLite file or postgresql:// URL (default: user data)")
    lease_seconds: float = setting(6.0, lease, "PostgreSQL: seconds a hung lead keeps the lead")
    rate: int = setting(10, positive(int), "commands one person may send per minute")
    digest_after: int = setting(5, positive(int), "single relayed lines per window, per room")
    digest_window: float = setting(10.0, positive(float), "seconds of the digest window")
    watch_poll_interval: float = setting(300.0, positive(float), "seconds between watch checks")
    watch_poll_batch: int = setting(100, positive(int), "watches asked about per hub request")
    watch_max_days: float = setting(7.0, positive(float), "days after which a watch is dropped")
    owner_tags: tuple[str, ...] = setting((), words, "tags whose package lists say what "
                                          "!alerts mine covers (default: every tag)")
    owner_refresh: float = setting(3600.0, positive(float), "seconds between readings of "
                                   "package owners and Koji notifications for DM alerts")

    def fill(self) -> None:
        if not self.state:
            object.__setattr__(self, "state", default_state_path())


@dataclass(frozen=True)
class KojiSettings(Section):
    """``[koji]``: which hub, read anonymously. With neither profile nor server: Fedora's."""

    NAME = "koji"
    profile: str | None = setting(None, str, "a koji client profile to read the hub from")
    server: str | None = setting(None, str, "the hub's XML-RPC URL")
    weburl: str | None = setting(None, str, "the hub's web UI URL")
    topurl: str | None = setting(None, str, "the URL of the hub's files")
    serverca: str | None = setting(None, str, "CA bundle to verify the hub with")
    timeout: float = setting(30.0, positive(float), "seconds to wait for the hub")
    retries: int = setting(3, count, "times a request the hub did not answer is sent again")
    retry_interval: float = setting(0.5, positive(float), "seconds before the first retry")
    idle_timeout: float = setting(15.0, positive(float), "seconds an idle connection is kept")

    def fill(self) -> None:
        if not self.profile and not self.server:
            for key, value in FEDORA.items():
                object.__setattr__(self, key, getattr(self, key) or value)

    def problems(self) -> list[tuple[str, str]]:
        if self.profile and self.server:
            return [("server", "give either koji.profile or koji.server, not both")]
        return []


@dataclass(frozen=True)
class MetricsSettings(Section):
    """``[metrics]``: /healthz and /metrics over HTTP."""

    NAME = "metrics"
    listen: tuple[str, int] = setting(("127.0.0.1", 9180), listen, "address and port to "
                                      "listen on")
    stalled_after: float = setting(300.0, positive(float), "seconds without a sent line before "
                                   "the outbox counts as stuck")
