"""The suite tests what ships: kojibot as installed, not this checkout's files.

``python3 -m pytest`` puts the checkout first on ``sys.path``, where ``kojibot`` is the
source tree (whose plugins become ``kojibot.plugins`` only in the wheel). The checkout moves
to the end, so ``kojibot`` and ``txkoji`` come from the installation and only ``tests``,
which is not installed, from here. The real-peer fixtures are in tests/peers/conftest.py.
"""

import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

from tests.logs import log_lines

CHECKOUT = Path(__file__).resolve().parent.parent
_here = [entry for entry in sys.path if entry in ("", ".", str(CHECKOUT))]
sys.path[:] = [entry for entry in sys.path if entry not in _here] + _here


def pytest_sessionstart(session):
    """Refuse to test the checkout's kojibot: only an installed copy has kojibot.plugins."""
    found = find_spec("kojibot")
    if found is None or Path(found.origin).resolve().is_relative_to(CHECKOUT):
        raise pytest.UsageError(
            "kojibot is not installed (only this checkout's source tree was found): "
            "run python3 -m pip install '.[test]' (or tests/install-deps) first")


@pytest.fixture
def logged():
    """What is logged during the test, as formatted lines."""
    with log_lines() as lines:
        yield lines
