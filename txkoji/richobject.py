"""The base of txkoji's rich results: a Munch of the hub's answer plus its Connection.

Every text in the answer is capped as it enters (txkoji.limits): a record a broken hub or a
hostile user filled with megabytes stays small wherever it is shown.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import IntEnum
from typing import Any

from munch import Munch

from txkoji import limits, times
from txkoji.states import state_name
from txkoji.web import page_url


class RichObject(Munch):
    """A hub record with computed properties; ``connection`` links back for kojiweb URLs."""

    connection: Any = None
    web_page: str = ""  # its kojiweb page, a key of txkoji.web.PAGES

    @classmethod
    def from_info(cls, info: dict | None, connection: Any = None):
        """Wrap one hub record; ``None`` (the hub's "not found") stays None."""
        if info is None:
            return None
        obj = cls(limits.capped(info))
        obj.connection = connection
        return obj

    @property
    def record_id(self) -> int | None:
        """The hub's id for this record."""
        return self.get("id")

    @property
    def url(self) -> str | None:
        """This record's kojiweb page, if the connection knows the kojiweb URL."""
        weburl = getattr(self.connection, "weburl", None)
        if not weburl or self.record_id is None:
            return None
        return page_url(weburl, self.web_page, self.record_id)


class TimedObject(RichObject):
    """A record with a state that starts and completes: builds and tasks."""

    states: type[IntEnum]  # the state numbers of this kind of record

    @property
    def state_name(self) -> str | None:
        return state_name(self.states, self.get("state"))

    @property
    def started(self) -> datetime | None:
        return times.field(self, "start")

    @property
    def completed(self) -> datetime | None:
        return times.field(self, "completion")

    @property
    def duration(self) -> timedelta | None:
        """Completion minus start; None until it has both."""
        if self.started is None or self.completed is None:
            return None
        return self.completed - self.started
