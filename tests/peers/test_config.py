"""Configuration checking: every problem is one line naming section.key, and check-config
refuses exactly what start-up refuses."""

import dataclasses
import os
import subprocess
import sys

import pytest
from twisted.internet.testing import MemoryReactorClock

from kojibot import config, settings
from kojibot.adapters.irc.network import adapter_from_config
from kojibot.adapters.irc.options import IRCSettings
from kojibot.adapters.matrix.rooms import MatrixSettings
from kojibot.bus.broker import AMQPSettings
from tests import CHECKOUT, DATA

ROOT = CHECKOUT
EXAMPLE = ROOT / "bot.example.ini"
BAD = DATA / "bad-configs"
BAD_CONFIGS = sorted(BAD.glob("*.ini"))


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
        "irc.host: required key is missing",
        "irc.port: bad value '99999': must be a port number (1-65535)",
        "irc.tls: bad value 'maybe': expected yes or no",
        "koji.server: give either koji.profile or koji.server, not both",
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


@pytest.mark.parametrize("section,cls", [("irc", IRCSettings), ("matrix", MatrixSettings),
                                         ("amqp", AMQPSettings)])
def test_every_adapter_setting_is_a_config_key(section, cls):
    assert {field.name for field in dataclasses.fields(cls)} <= set(config.SCHEMA[section])


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


def kojibot(*args, cwd=None, home=None):
    """``python -m kojibot ARGS`` as an operator runs it: own HOME, no terminal, and the
    installed kojibot (-P keeps the working directory off sys.path)."""
    env = dict(os.environ)
    if home is not None:
        env.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"))
    return subprocess.Popen([sys.executable, "-P", "-m", "kojibot", *args], cwd=cwd, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finished(process, timeout=60):
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise AssertionError(f"{process.args} still running after {timeout} s") from None
    return process.returncode, out, err.splitlines()


def expected(path):
    return [line.removeprefix("# expect: ") for line in path.read_text().splitlines()
            if line.startswith("# expect: ")]


@pytest.fixture(scope="module")
def both_answers(tmp_path_factory):
    """Each bad config through check-config and through start-up, all run at once."""
    home = tmp_path_factory.mktemp("home")
    running = {path.name: (kojibot("check-config", path.name, cwd=BAD, home=home),
                           kojibot("--config", path.name, cwd=BAD, home=home))
               for path in BAD_CONFIGS}
    return {name: (finished(check), finished(start)) for name, (check, start) in running.items()}


@pytest.mark.parametrize("path", BAD_CONFIGS, ids=lambda path: path.stem)
def test_check_config_and_start_up_refuse_a_bad_config_alike(path, both_answers):
    (check_rc, check_out, check_err), (start_rc, start_out, start_err) = \
        both_answers[path.name]
    lines = [f"{path.name}: {problem}" for problem in expected(path)]
    assert lines, f"{path.name} has no '# expect:' line"
    assert (check_rc, check_out, check_err) == (1, "", lines)
    assert (start_rc, start_out, start_err) == (2, "", lines)


def test_check_config_says_ok_for_a_good_config(tmp_path):
    good = tmp_path / "good.ini"
    good.write_text(f"[bot]\nstate = {tmp_path}/state.sqlite3\nplugins = help task\n"
                    "[irc]\nhost = irc.example.test\nchannels = #koji\nping_interval = 30\n"
                    "ping_timeout = 90\nusername = kb\nrealname = Koji answers\n"
                    "[matrix]\nhomeserver = https://matrix.example.org\n"
                    "user_id = @kojibot:example.org\naccess_token = syt_x\n"
                    "[amqp]\nurl = amqp://guest:guest@localhost/%2F\n")
    for path in (good, EXAMPLE):
        assert finished(kojibot("check-config", str(path), home=tmp_path)) == (
            0, f"{path}: OK\n", [])
    assert not (tmp_path / "state.sqlite3").exists()  # checked, not created


def test_start_up_refuses_matrix_without_matrix_nio_as_check_config_does(tmp_path):
    path = tmp_path / "matrix.ini"
    path.write_text(f"[bot]\nstate = {tmp_path}/state.sqlite3\n[matrix]\n"
                    "homeserver = https://matrix.example.org\nuser_id = @kb:example.org\n"
                    "password = pw\n")
    without_nio = ("import runpy, sys; sys.modules['nio'] = None; "
                   "runpy.run_module('kojibot', run_name='__main__')")
    answers = []
    for args in (["check-config", str(path)], ["--config", str(path)]):
        process = subprocess.run([sys.executable, "-P", "-c", without_nio, *args], cwd=tmp_path,
                                 stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                 timeout=60)
        answers.append((process.returncode, process.stderr.splitlines()))
    line = (f"{path}: matrix: needs matrix-nio (nio is not installed): "
            "pip install 'kojibot[matrix]'")
    assert answers == [(1, [line]), (2, [line])]


def test_check_config_refuses_a_bad_or_unreachable_postgresql_state_in_one_line(
        tmp_path, postgresql):
    cases = {
        "postgresql://postgres@127.0.0.1:1/kojibot":
            'cannot reach the database: connection failed: connection to server at '
            '"127.0.0.1", port 1 failed: Connection refused',
        f"{postgresql.url}_missing":
            'cannot reach the database: connection failed: connection to server at '
            f'"127.0.0.1", port 5432 failed: FATAL:  database "{postgresql.name}_missing" '
            'does not exist',
        "postgresql://postgres@[127.0.0.1/kojibot":
            'not a PostgreSQL URL: end of string reached when looking for matching "]" in '
            'IPv6 host address in URI: "the URL"',
    }
    path = tmp_path / "bot.ini"
    for url, why in cases.items():
        path.write_text(f"[bot]\nstate = {url}\n")
        assert finished(kojibot("check-config", str(path), home=tmp_path)) == (
            1, "", [f"{path}: bot.state: {why}"])
    path.write_text(f"[bot]\nstate = {postgresql.url}\nlease_seconds = 1\n")
    assert finished(kojibot("check-config", str(path), home=tmp_path)) == (
        1, "", [f"{path}: bot.lease_seconds: bad value '1': must be 2 seconds or more"])
    path.write_text(f"[bot]\nstate = {postgresql.url}\nlease_seconds = 4\n")
    assert finished(kojibot("check-config", str(path), home=tmp_path)) == (
        0, f"{path}: OK\n", [])
