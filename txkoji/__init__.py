"""txkoji: an asynchronous Koji client on Twisted.

    koji = txkoji.Connection('fedora')
    task = yield koji.getTaskInfo(10000)      # a txkoji.task.Task
"""

from txkoji.build import Build
from txkoji.channel import Channel
from txkoji.connection import Connection
from txkoji.exceptions import *  # noqa: F403 - every fault class is public API
from txkoji.exceptions import KojiException, KojiTimeout, KojiTransportError
from txkoji.multicall import MultiCall
from txkoji.package import Package
from txkoji.states import BuildState, TaskState
from txkoji.task import Task

__all__ = ["Build", "BuildState", "Channel", "Connection", "KojiException", "KojiTimeout",
           "KojiTransportError", "MultiCall", "Package", "Task", "TaskState"]


def __getattr__(name: str):
    """The deprecated alias ``txkoji.ImportError`` (see txkoji.exceptions)."""
    from txkoji import exceptions

    return getattr(exceptions, name)
