"""Every benchmark command of docs/benchmarks.md runs as written there, in its quick mode,
from the checkout against the installed kojibot."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests import CHECKOUT

PAGE = CHECKOUT / "docs" / "benchmarks.md"


def documented() -> list[str]:
    """The commands of the page's first fenced block, comments dropped."""
    block = re.search(r"```\n(.*?)```", PAGE.read_text(), re.S).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]


def test_the_page_lists_every_benchmark():
    listed = {command.split()[2] for command in documented()}
    shipped = {f"bench.{path.stem}" for path in (CHECKOUT / "bench").glob("*.py")
               if "def main(" in path.read_text()}
    assert listed == shipped


@pytest.mark.parametrize("command", documented())
def test_the_documented_command_runs_in_quick_mode(command):
    run = subprocess.run(["sh", "-c", f"{command} --quick"], cwd=CHECKOUT, capture_output=True,
                         text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, f"{command} --quick: {run.stderr[-3000:]}"
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    assert re.search(r"\d\.\d\dx| lost", run.stdout), \
        f"no ratio (or loss count) printed: {run.stdout[-2000:]}"
