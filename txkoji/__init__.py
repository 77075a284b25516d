"""txkoji: an asynchronous Koji client on Twisted.

    koji = txkoji.Connection('fedora')
    task = yield koji.getTaskInfo(10000)      # a txkoji.task.Task
"""

from typing import TYPE_CHECKING

from txkoji.build import Build
from txkoji.channel import Channel
from txkoji.exceptions import *  # noqa: F403 - every fault class is public API
from txkoji.exceptions import KojiException, KojiTimeout, KojiTransportError
from txkoji.multicall import MultiCall
from txkoji.package import Package
from txkoji.states import BuildState, TaskState
from txkoji.task import Task

if TYPE_CHECKING:
    from txkoji.connection import Connection

__all__ = ["Build", "BuildState", "Channel", "Connection", "KojiException", "KojiTimeout",
           "KojiTransportError", "MultiCall", "Package", "Task", "TaskState"]


def __getattr__(name: str):
    """``Connection``, loaded (with the HTTP client) only when asked for, so that code
    which only catches txkoji's faults stays light; and the deprecated alias
    ``txkoji.ImportError`` (see txkoji.exceptions)."""
    if name == "Connection":
        from txkoji.connection import Connection

        return Connection
    from txkoji import exceptions

    return getattr(exceptions, name)
