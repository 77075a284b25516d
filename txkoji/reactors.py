"""The reactor an object runs on: the one it was given (a test's clock), else Twisted's
global reactor, imported only then so that importing a module installs none."""

from __future__ import annotations

from typing import Any


def default_reactor(reactor: Any = None) -> Any:
    """*reactor*, or the global one when it is None."""
    if reactor is None:
        from twisted.internet import reactor as installed

        return installed
    return reactor
