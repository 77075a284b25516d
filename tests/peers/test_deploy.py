"""The deployment files: deploy/kojibot.service passes ``systemd-analyze verify`` and its
commands, paths and environment run the installed bot with the state in its StateDirectory;
the Containerfile's runtime settings (user, volume, state path, health check) hold for the
installed wheel. Building the image needs a registry this machine cannot reach (README)."""

from __future__ import annotations

import configparser
import json
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet import threads

from tests.installed import ROOT, healthz
from tests.ircd import free_port

UNIT = ROOT / "deploy" / "kojibot.service"
CONTAINERFILE = ROOT / "Containerfile"
UNITS = Path("/usr/lib/systemd/system")  # sysinit.target and the rest verify looks for


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if not found:
        pytest.fail("systemd-analyze not found: install Debian package systemd "
                    "(run tests/install-deps)", pytrace=False)
    return found


def unit_service() -> configparser.SectionProxy:
    parser = configparser.RawConfigParser(strict=False)  # SystemCallFilter comes twice
    parser.optionxform = str
    parser.read(UNIT)
    return parser["Service"]


def test_the_unit_passes_systemd_analyze_verify(installed, tmp_path):
    """Verified in a root holding the system's units and the unit's ExecStart path."""
    analyze = systemd_analyze()
    shutil.copytree(UNITS, tmp_path / UNITS.relative_to("/"), symlinks=True)
    (tmp_path / "etc/systemd/system").mkdir(parents=True)
    shutil.copy(UNIT, tmp_path / "etc/systemd/system")
    program = tmp_path / "opt/kojibot/bin/kojibot"
    program.parent.mkdir(parents=True)
    program.write_text(f'#!/bin/sh\nexec {installed.kojibot} "$@"\n')
    program.chmod(0o755)
    run = subprocess.run([analyze, "verify", f"--root={tmp_path}", "kojibot.service"],
                         capture_output=True, text=True, timeout=120)
    assert (run.returncode, run.stdout + run.stderr) == (0, "")


@pytest_twisted.ensureDeferred
async def test_the_units_commands_keep_the_state_in_its_state_directory(installed, tmp_path):
    """ExecStartPre and ExecStart with the unit's Environment (%S, %C and /opt/kojibot
    mapped into tmp_path): check-config says OK, the bot starts, the default state path
    is StateDirectory's."""
    service = unit_service()
    assert service["StateDirectory"] == service["CacheDirectory"] == "kojibot"
    assert service["Restart"] == "on-failure" and service["DynamicUser"] == "yes"
    state, cache = tmp_path / "lib", tmp_path / "cache"
    (state / "kojibot").mkdir(parents=True)
    config = tmp_path / "bot.ini"
    port = free_port()
    config.write_text("[koji]\nserver = http://127.0.0.1:9/kojihub\n"
                      f"[irc]\nhost = 127.0.0.1\nport = {free_port()}\ntls = no\n"
                      f"[metrics]\nlisten = 127.0.0.1:{port}\n")

    def command(line: str) -> list[str]:
        line = line.replace("%S", str(state)).replace("%C", str(cache))
        line = line.replace("/etc/kojibot/bot.ini", str(config))
        return [part.replace("/opt/kojibot/bin/", f"{installed.bin}/")
                for part in shlex.split(line)]

    env = installed.environment(tmp_path)
    env.update(part.split("=", 1) for part in command(service["Environment"]))
    check = subprocess.run(command(service["ExecStartPre"]), capture_output=True, text=True,
                           env=env, timeout=60)
    assert (check.returncode, check.stdout) == (0, f"{config}: OK\n"), check.stderr
    log = (tmp_path / "bot.log").open("w")
    bot = subprocess.Popen(command(service["ExecStart"]), stdout=log, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, env=env, cwd=tmp_path)
    try:
        status = await threads.deferToThread(_wait_healthz, port)
        assert status == 503  # up, but its IRC server is not there
        assert (state / "kojibot" / "state.sqlite3").is_file()
    finally:
        bot.terminate()
        assert bot.wait(15) == 0
        log.close()
    assert "Traceback" not in (tmp_path / "bot.log").read_text()


def _wait_healthz(port: int, timeout: float = 30) -> int:
    """The status /healthz answers once it answers (blocking)."""
    import time

    deadline = time.monotonic() + timeout
    while not (status := healthz(port)):
        assert time.monotonic() < deadline, f"nothing answered on port {port} in {timeout} s"
        time.sleep(0.1)
    return status


def containerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) of the Containerfile, continuation lines joined."""
    text = CONTAINERFILE.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [tuple(line.split(None, 1)) for line in lines if line and not line.startswith("#")]


def test_the_containerfile_builds_from_the_wheel_and_runs_as_a_user_with_a_volume():
    steps = containerfile()
    stages = [args for op, args in steps if op == "FROM"]
    assert stages == ["${BASE} AS wheel", "${BASE}"]
    runtime = steps[max(n for n, (op, _) in enumerate(steps) if op == "FROM"):]
    assert ("COPY", "--from=wheel /dist/ /tmp/dist/") in runtime
    assert not any(op == "COPY" and "--from" not in args for op, args in runtime)
    assert ("USER", "kojibot") in runtime and ("VOLUME", '["/var/lib/kojibot"]') in runtime
    extras = next(args for op, args in runtime if op == "ARG" and args.startswith("EXTRAS="))
    declared = configparser.ConfigParser()
    declared.read(ROOT / "setup.cfg")
    offered = set(declared["options.extras_require"])
    assert set(extras.removeprefix("EXTRAS=").split(",")) <= offered


@pytest_twisted.ensureDeferred
async def test_the_images_environment_and_health_check_work_with_the_wheel(installed, ngircd,
                                                                            tmp_path):
    """The image's ENV puts the default state in its volume; its HEALTHCHECK command, run
    with the installed Python, fails while the bot is unhealthy and passes when healthy."""
    steps = containerfile()
    env = dict(part.split("=", 1)
               for op, args in steps if op == "ENV" for part in shlex.split(args))
    where = subprocess.run(
        [str(installed.python), "-c", "from kojibot.config import default_state_path as d;"
         " print(d())"], env=dict(installed.environment(tmp_path), **{
             key: env[key] for key in ("HOME", "XDG_DATA_HOME")}),
        capture_output=True, text=True, timeout=60)
    assert where.stdout == "/var/lib/kojibot/state.sqlite3\n", where.stderr
    check = next(args for op, args in steps if op == "HEALTHCHECK")
    program = json.loads(check.split(" CMD ", 1)[1])
    assert program[0] == "python" and "http://127.0.0.1:9180/healthz" in program[2]
    probe = [str(installed.python), *program[1:]]
    for irc_port, healthy in ((free_port(), False), (ngircd.port, True)):
        bot = installed.start(f"[bot]\nstate = {tmp_path}/s.sqlite3\n"
                              "[koji]\nserver = http://127.0.0.1:9/kojihub\n"
                              f"[irc]\nhost = 127.0.0.1\nport = {irc_port}\ntls = no\n"
                              "[metrics]\n", tmp_path / str(healthy))
        try:
            await bot.wait_log(r"serving /healthz and /metrics on http://127\.0\.0\.1:9180$")
            if healthy:
                await bot.wait_log(r"signed on to ")
            run = await threads.deferToThread(subprocess.run, probe, capture_output=True,
                                              timeout=30)
            assert (run.returncode == 0) == healthy, run.stderr
            assert healthy or b"503" in run.stderr
        finally:
            await bot.stop()
