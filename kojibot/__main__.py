"""``python -m kojibot``: the same as the ``kojibot`` command."""

import sys

from kojibot.cli import main

sys.exit(main())
