"""What ships: the wheel and sdist carry the whole tree, and the installed bot runs by itself."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

from tests.installed import ROOT
from tests.unit.kojibot.test_loader import readme_block

PACKAGES = {"txkoji": "txkoji", "kojibot": "kojibot", "plugins": "kojibot/plugins"}
NOT_SOURCE = re.compile(r"(^|/)(\.git|__pycache__|build|dist|[^/]*\.egg-info|\.pytest_cache|"
                        r"\.hypothesis|\.ruff_cache)(/|$)|\.py[cod]$")


def tree_files(top: Path) -> set[str]:
    return {path.relative_to(ROOT).as_posix() for path in top.rglob("*")
            if path.is_file() and not NOT_SOURCE.search(path.relative_to(ROOT).as_posix())}


def test_the_wheel_carries_every_package_and_data_file(installed):
    with zipfile.ZipFile(installed.wheel) as wheel:
        shipped = set(wheel.namelist())
    expected = {PACKAGES[name.split("/", 1)[0]] + "/" + name.split("/", 1)[1]
                for top in PACKAGES for name in tree_files(ROOT / top)}
    assert expected - shipped == set(), "files of the tree missing from the wheel"
    assert "txkoji/py.typed" in shipped and "kojibot/plugins/task.py" in shipped
    tops = {name.split("/", 1)[0] for name in shipped}
    assert tops == {"txkoji", "kojibot", installed.wheel.name.split("-py3")[0] + ".dist-info"}, \
        "the wheel installs top-level packages other than txkoji and kojibot"


def test_the_sdist_carries_the_whole_tree(installed):
    with tarfile.open(installed.sdist) as sdist:
        prefix = installed.sdist.name.removesuffix(".tar.gz") + "/"
        shipped = {member.name.removeprefix(prefix) for member in sdist.getmembers()
                   if member.isfile()}
    missing = {name for name in tree_files(ROOT) if name not in shipped}
    assert missing == set(), "files of the tree missing from the sdist"


def test_nothing_that_ships_reads_a_distribution_specific_path(installed):
    with zipfile.ZipFile(installed.wheel) as wheel:
        offenders = [name for name in wheel.namelist() if name.endswith(".py")
                     and re.search(rb"/usr/(share|lib)/", wheel.read(name))]
    assert offenders == []


def test_the_installed_command_and_module_run_from_the_venv_alone(installed, tmp_path):
    version = installed.run(["--version"], tmp_path)
    assert version.returncode == 0 and re.fullmatch(r"kojibot \d+\.\d+\.\d+\n", version.stdout)
    probe = subprocess.run(
        [str(installed.python), "-c", "import kojibot, kojibot.plugins.task, txkoji, "
         "importlib.util as u; print(kojibot.__file__); print(u.find_spec('plugins'))"],
        capture_output=True, text=True, cwd=tmp_path, env=installed.environment(tmp_path))
    module_path, plugins_spec = probe.stdout.split()
    assert module_path.startswith(str(installed.root / "venv")), module_path
    assert plugins_spec == "None", "a top-level 'plugins' package is importable"
    as_module = subprocess.run([str(installed.python), "-m", "kojibot", "--version"],
                               capture_output=True, text=True, cwd=tmp_path,
                               env=installed.environment(tmp_path))
    assert as_module.stdout == version.stdout


def test_the_readme_run_command_installs_and_runs_the_bot(tmp_path):
    """The command exactly as written, in a copy of the tree, with a HOME of its own."""
    command = readme_block("## Run the bot").strip()
    tree = tmp_path / "clone"
    shutil.copytree(ROOT, tree, ignore=lambda folder, names: [
        name for name in names if NOT_SOURCE.search(name)])
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8"}
    run = subprocess.run(["sh", "-c", command], input="help\n", capture_output=True, text=True,
                         cwd=tree, env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.splitlines()[-1].startswith("Commands: alerts, build, eta, help")
    assert (home / ".local" / "share" / "kojibot" / "state.sqlite3").is_file()


