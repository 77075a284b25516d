"""The base of txkoji's rich results: a Munch of the hub's answer plus its Connection."""

from __future__ import annotations

from typing import Any

from munch import Munch


class RichObject(Munch):
    """A hub record with computed properties; ``connection`` links back for kojiweb URLs."""

    connection: Any = None
    web_page: str = ""
    web_param: str = ""

    @classmethod
    def from_info(cls, info: dict | None, connection: Any = None):
        """Wrap one hub record; ``None`` (the hub's "not found") stays None."""
        if info is None:
            return None
        obj = cls(info)
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
        return f"{weburl.rstrip('/')}/{self.web_page}?{self.web_param}={self.record_id}"
