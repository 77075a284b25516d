"""check-config and start-up as operators run them: the installed command in processes of its
own (some fifty of them), both refusing every bad config with the same lines."""

import os
import subprocess
import sys

import pytest

from tests import DATA
from tests.unit.kojibot.test_config import EXAMPLE

BAD = DATA / "bad-configs"
BAD_CONFIGS = sorted(BAD.glob("*.ini"))


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
