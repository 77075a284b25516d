"""The dispatcher and the plugin API are network- and state-free: importing either loads
no database driver, HTTP client or broker client, nor the bot (a fresh interpreter, on the
installed kojibot)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("sqlite3", "treq", "pika", "psycopg")


def loaded_by(statement: str) -> list[str]:
    probe = f"import sys\n{statement}\nprint(' '.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True,
                          text=True, timeout=60, check=True)
    return done.stdout.split()


def test_importing_the_dispatcher_loads_no_state_network_or_bus():
    modules = loaded_by("import kojibot.chat.dispatcher")
    assert "kojibot.chat.dispatcher" in modules
    assert [name for name in modules if name.split(".")[0] in HEAVY] == []
    assert [name for name in modules if name in ("kojibot.bot", "kojibot.api")] == []


def test_the_probe_sees_a_heavy_import():
    assert "sqlite3" in loaded_by("import kojibot.bot")


def test_the_plugin_api_loads_neither_the_bot_nor_the_state():
    modules = loaded_by("import kojibot.api")
    assert [name for name in modules if name.split(".")[0] in HEAVY] == []
    assert [name for name in modules if name in ("kojibot.bot", "kojibot.chat.dispatcher",
                                                 "kojibot.state.store")] == []
