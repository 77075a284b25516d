"""The tests run against the installed kojibot, whether pytest was started with -P or not."""

import sys
from importlib.util import find_spec
from pathlib import Path

import kojibot
import txkoji
from tests import CHECKOUT


def test_kojibot_and_txkoji_come_from_the_installation_with_the_plugins():
    for package in (kojibot, txkoji):
        assert not Path(package.__file__).resolve().is_relative_to(CHECKOUT), package.__file__
    plugins = find_spec("kojibot.plugins")  # only the wheel has kojibot.plugins
    assert plugins is not None and not Path(plugins.origin).is_relative_to(CHECKOUT)


def test_the_checkout_stays_on_the_path_behind_the_installation():
    here = [index for index, entry in enumerate(sys.path)
            if entry in ("", ".", str(CHECKOUT))]
    installed = [index for index, entry in enumerate(sys.path) if "-packages" in entry]
    assert not here or not installed or min(here) > max(installed)
