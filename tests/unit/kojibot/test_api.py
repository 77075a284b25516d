"""The plugin contract: ``kojibot.api`` exports the list docs/plugins.md gives, and
``Context`` has the members it documents, nothing else."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import kojibot.api

DOCS = Path(__file__).resolve().parents[3] / "docs" / "plugins.md"


def documented(label: str) -> list[str]:
    """The names in docs/plugins.md's line starting with *label*, in backquotes."""
    text = DOCS.read_text()
    start = text.index(label)
    paragraph = text[start:text.index("\n\n", start)]
    return re.findall(r"`([A-Za-z_]+)`", paragraph.removeprefix(label))


def test_the_api_exports_the_documented_list_and_nothing_else():
    assert sorted(kojibot.api.__all__) == sorted(documented("`kojibot.api` exports:"))
    public = {name for name in vars(kojibot.api) if not name.startswith("_")}
    assert set(kojibot.api.__all__) <= public


def test_the_context_has_the_documented_members():
    members = [field.name for field in dataclasses.fields(kojibot.api.Context)]
    assert members == documented("`Context`'s members:")
    assert len(members) <= 9
    assert {name for name in vars(kojibot.api.Context) if not name.startswith("_")} <= \
        set(members)
