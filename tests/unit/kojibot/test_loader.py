"""Plugins named in [bot] plugins: built in, by dotted module path, by file, by entry point."""

from __future__ import annotations

import re
import sys
import textwrap

import pytest
import pytest_twisted

from kojibot import config
from kojibot.chat.render import plain
from kojibot.loader import PluginError, load_plugins
from tests import CHECKOUT

PLUGIN = '''
from kojibot.chat.commands import command


@command("{name}")
async def {name}(ctx, word: str):
    """Say the word back."""
    return word
'''


def test_builtin_plugins_load_by_name():
    registry = load_plugins(config.defaults().bot.plugins)
    assert registry.names() == ["alerts", "build", "eta", "help", "iam", "latest", "subscribe",
                                "subscriptions", "task", "unsubscribe", "unwatch", "user",
                                "watch", "watches", "why"]
    assert [listener.name for listener in registry.listeners] == ["kojiweb_links"]


def test_plugin_by_file_path(tmp_path):
    path = tmp_path / "echo_file.py"
    path.write_text(PLUGIN.format(name="echofile"))
    assert load_plugins([str(path)]).names() == ["echofile"]


def test_plugin_by_dotted_module_path(tmp_path, monkeypatch):
    package = tmp_path / "ourcompany"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "kojiplugins.py").write_text(PLUGIN.format(name="echodotted"))
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_plugins(["ourcompany.kojiplugins"]).names() == ["echodotted"]


def test_plugin_from_an_installed_distribution_entry_point(tmp_path, monkeypatch):
    """A distribution on sys.path (as pip installs one) offering kojibot.plugins = echo."""
    (tmp_path / "echo_dist_plugin.py").write_text(PLUGIN.format(name="echoep"))
    info = tmp_path / "kojibot_echo-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: kojibot-echo\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        textwrap.dedent("""\
            [kojibot.plugins]
            echo = echo_dist_plugin
            """))
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_plugins(["echo"]).names() == ["echoep"]


@pytest.mark.parametrize(("entry", "message"), [
    ("nosuch", "bot.plugins: 'nosuch': no such plugin (not built in, and no installed "
               "distribution offers it in the kojibot.plugins entry points)"),
    ("no.such.module", "bot.plugins: 'no.such.module': no module named 'no'"),
    ("../etc", "bot.plugins: '../etc': no such file"),
    ("/nonexistent/ours.py", "bot.plugins: '/nonexistent/ours.py': no such file"),
    ("bad name!", "bot.plugins: 'bad name!': not a plugin name, dotted module path or .py file"),
])
def test_unloadable_entries_are_one_line(entry, message):
    with pytest.raises(PluginError) as caught:
        load_plugins([entry])
    assert str(caught.value) == message


def test_a_broken_plugin_file_is_one_line(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("import nonexistent_module_for_kojibot\n")
    with pytest.raises(PluginError) as caught:
        load_plugins([str(path)])
    assert str(caught.value) == (f"bot.plugins: {str(path)!r}: failed to load: "
                                 "ModuleNotFoundError: No module named "
                                 "'nonexistent_module_for_kojibot'")
    assert "kojibot_plugin_broken" not in sys.modules


def test_a_command_declared_twice_names_the_plugin(tmp_path):
    path = tmp_path / "again.py"
    path.write_text(PLUGIN.format(name="task"))
    with pytest.raises(PluginError, match=r"'.*again.py': command 'task' is declared twice"):
        load_plugins(["task", str(path)])


def readme_block(after_heading: str, page: str = "README.md") -> str:
    """The first fenced block after a heading of the README (or of another page)."""
    text = (CHECKOUT / page).read_text()
    section = text[text.index(after_heading):]
    return re.search(r"```(\w*)\n(.*?)```", section, re.S).group(2)


@pytest_twisted.ensureDeferred
async def test_the_documented_example_plugin_loads_from_its_file_and_answers(tmp_path):
    path = tmp_path / "greet.py"
    path.write_text(readme_block("# Writing plugins", "docs/plugins.md"))
    registry = load_plugins(["help", str(path)])
    command = registry.get("hello")
    assert command.usage("!") == "!hello NAME"
    assert plain(await command.handler(None, *command.parse(["Ada"]))) == "Hello, Ada!"
