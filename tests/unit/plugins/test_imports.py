"""The built-in plugins use nothing of kojibot but its plugin API."""

from __future__ import annotations

import ast
from pathlib import Path

PLUGINS = Path(__file__).resolve().parents[3] / "plugins"


def kojibot_imports(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.split(".")[0] == "kojibot"}


def test_plugins_import_only_kojibot_api():
    files = sorted(PLUGINS.glob("*.py"))
    assert len(files) > 10, PLUGINS
    for path in files:
        assert kojibot_imports(path.read_text()) <= {"kojibot.api"}, path.name


def test_the_check_sees_a_stray_import():
    assert kojibot_imports("import kojibot.bot\nfrom kojibot import api\n"
                           "from kojibot.state.store import Store\n") == {
        "kojibot.bot", "kojibot", "kojibot.state.store"}
