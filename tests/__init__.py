"""The test tree: tests/unit needs nothing but the installed kojibot, tests/peers real servers."""

from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
DATA = CHECKOUT / "tests" / "data"
