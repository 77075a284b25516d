"""Configuration checking: every problem is one line naming section.key (check-config and
start-up as processes: tests/peers/test_config.py)."""

import pytest
from twisted.internet.testing import MemoryReactorClock

from kojibot import config, settings
from kojibot.adapters.irc.network import adapter_from_config
from kojibot.config import AMQPSettings, IRCSettings
from tests import CHECKOUT

EXAMPLE = CHECKOUT / "bot.example.ini"


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
        "extra: unknown section (known: bot, koji, irc, matrix, amqp, metrics)",
        "bot.foo: unknown key",
        "bot.prefix: bad value 'a': must be one or more punctuation characters, e.g. !",
        "bot.rate: bad value '-1': must be greater than zero",
        "koji.server: give either koji.profile or koji.server, not both",
        "irc.host: required key is missing",
        "irc.port: bad value '99999': must be a port number (1-65535)",
        "irc.tls: bad value 'maybe': expected yes or no",
        "irc.channels: channel 'x' is not a channel name",
    ]
    assert all("\n" not in problem for problem in found)


def test_syntax_error_is_one_line():
    (found,) = problems("no section header\n")
    assert found == "File contains no section headers."


def test_irc_defaults():
    settings = config.parse("[bot]\nnick = kb\n[irc]\nhost = irc.example.test\n"
                            "channels = #a, #b\n")
    assert settings.irc.port == 6697 and settings.irc.tls and settings.irc.tls_verify
    assert settings.irc.nick == "kb" and settings.irc.channels == ("#a", "#b")


def test_build_makes_what_start_up_runs_on_and_connects_nowhere(tmp_path):
    parsed = config.parse(
        f"[bot]\nstate = {tmp_path}/state.sqlite3\nplugins = help, task\n"
        "[koji]\nserver = https://hub.example.test/kojihub\nretries = 0\n"
        "[irc]\nhost = irc.example.test\nchannels = #koji\nping_interval = 30\n"
        "ping_timeout = 90\nusername = kb\nrealname = Koji answers\n"
        "[amqp]\nurl = amqp://u:pw@broker.example.test/\nqueue = q\n")
    reactor = MemoryReactorClock()
    built = settings.build(parsed, reactor=reactor)
    assert built.irc == IRCSettings(host="irc.example.test", nick="kojibot", channels=("#koji",),
                                    ping_interval=30.0, ping_timeout=90.0, username="kb",
                                    realname="Koji answers")
    assert built.amqp == AMQPSettings(url="amqp://u:pw@broker.example.test/", queue="q")
    assert built.matrix is None and built.registry.names() == ["help", "task"]
    assert (built.koji.server, built.koji.settings["retries"]) == (
        "https://hub.example.test/kojihub", 0)
    assert built.state == f"{tmp_path}/state.sqlite3" and built.config is parsed
    assert reactor.tcpClients == [] and reactor.sslClients == [] and not reactor.getDelayedCalls()
    assert not (tmp_path / "state.sqlite3").exists()
    assert adapter_from_config(parsed.irc, print).settings == built.irc


def test_a_state_file_that_is_not_a_database_is_refused(tmp_path):
    state = tmp_path / "state.sqlite3"
    state.write_text("not sqlite")
    with pytest.raises(config.ConfigError) as info:
        settings.build(config.parse(f"[bot]\nstate = {state}\n"), koji=object())
    assert info.value.problems == [f"bot.state: {state}: file is not a database"]

