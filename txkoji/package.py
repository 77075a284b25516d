"""A Koji package."""

from __future__ import annotations

from txkoji.richobject import RichObject


class Package(RichObject):
    web_page = "packageinfo"
