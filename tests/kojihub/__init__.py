"""A real koji hub (1.30.0 from its sdist) with PostgreSQL, seeded, for integration tests.

`python -m tests.kojihub fetch` caches the sdist; `python -m tests.kojihub start` runs a
seeded hub until interrupted. Tests use the `kojihub` fixture from tests/peers/conftest.py.
"""

from .hub import HubUnavailable, KojiHub

__all__ = ["HubUnavailable", "KojiHub"]
