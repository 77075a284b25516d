"""Configuration checking: every problem is one line naming section.key."""

import subprocess
import sys
from pathlib import Path

import pytest

from kojibot import config

EXAMPLE = Path(__file__).parent.parent / "bot.example.ini"


def problems(text):
    with pytest.raises(config.ConfigError) as info:
        config.parse(text)
    return info.value.problems


def test_defaults_are_console_on_fedora():
    settings = config.defaults()
    assert settings.irc is None
    assert settings.koji.server == "https://koji.fedoraproject.org/kojihub"
    assert settings.bot.prefix == "!" and settings.bot.rate == 10
    assert settings.bot.state.endswith("state.sqlite3")


def test_every_problem_is_reported_at_once():
    found = problems("[bot]\nprefix = a\nrate = -1\nfoo = 1\n[irc]\nchannels = x\n"
                     "port = 99999\ntls = maybe\n[koji]\nprofile = p\nserver = s\n[extra]\n")
    assert found == [
        "extra: unknown section (known: bot, koji, irc, matrix, amqp)",
        "bot.foo: unknown key",
        "bot.prefix: bad value 'a': must be one or more punctuation characters, e.g. !",
        "bot.rate: bad value '-1': must be greater than zero",
        "irc.host: required key is missing",
        "irc.port: bad value '99999': must be a port number (1-65535)",
        "irc.tls: bad value 'maybe': expected yes or no",
        "koji.server: give either koji.profile or koji.server, not both",
        "irc.channels: 'x' is not a channel name",
    ]
    assert all("\n" not in problem for problem in found)


def test_syntax_error_is_one_line():
    (found,) = problems("no section header\n")
    assert found == "File contains no section headers."


def test_irc_defaults():
    settings = config.parse("[bot]\nnick = kb\n[irc]\nhost = irc.example.test\n"
                            "channels = #a, #b\n")
    assert settings.irc.port == 6697 and settings.irc.tls and settings.irc.tls_verify
    assert settings.irc.nick == "kb" and settings.irc.channels == ["#a", "#b"]


def test_example_documents_every_key_and_is_valid():
    text = EXAMPLE.read_text()
    for section, fields in config.SCHEMA.items():
        assert f"[{section}]" in text, section
        for key in fields:
            assert f"\n{key} =" in text or f"\n# {key} =" in text, f"{section}.{key}"
    config.load(str(EXAMPLE))


def test_check_config_command(tmp_path):
    bad = tmp_path / "bad.ini"
    bad.write_text("[bot]\nrate = lots\n")
    run = subprocess.run([sys.executable, "-m", "kojibot.cli", "check-config", str(bad)],
                         capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert run.returncode == 1
    assert run.stderr.strip() == f"{bad}: bot.rate: bad value 'lots': expected a whole number"
    good = subprocess.run([sys.executable, "-m", "kojibot.cli", "check-config", str(EXAMPLE)],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert good.returncode == 0, good.stderr
