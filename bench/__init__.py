"""Benchmarks, run from a checkout as ``python3 -m bench.NAME`` against the installed kojibot.

``-m`` puts the checkout first on ``sys.path``, where ``kojibot`` is the source tree (whose
plugins are installed as ``kojibot.plugins`` only by the wheel). The checkout moves to the
end, so ``kojibot`` and ``txkoji`` come from the installation and only ``bench`` and
``tests``, which are not installed, from here.
"""

import sys
from importlib.util import find_spec
from pathlib import Path

_CHECKOUT = str(Path(__file__).resolve().parent.parent)
_here = [entry for entry in sys.path if entry in ("", ".", _CHECKOUT)]
sys.path[:] = [entry for entry in sys.path if entry not in _here] + _here
_found = find_spec("kojibot")
if _found is None or Path(_found.origin).resolve().is_relative_to(_CHECKOUT):
    sys.exit("the benchmarks run the installed kojibot: install this tree first "
             "(python3 -m pip install --no-deps . or tests/install-deps)")
