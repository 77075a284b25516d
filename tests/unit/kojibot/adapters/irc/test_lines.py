"""Long replies cut into IRC lines: within the byte limit, never inside a colour code."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kojibot.adapters.irc.lines import split_text
from kojibot.chat.render import strip_irc_formatting


@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=600),
       st.integers(4, 120))
def test_split_text_keeps_every_character_within_the_byte_limit(body, limit):
    pieces = split_text(body, limit)
    assert all(0 < len(piece.encode()) <= limit for piece in pieces)
    assert "".join(pieces).replace(" ", "") == body.replace(" ", "")


@pytest.mark.parametrize("limit", range(6, 30))  # 6: the longest colour code
def test_split_text_never_cuts_a_colour_code(limit):
    """A cut inside ``\\x0304,12`` would show "4,12" as text on the next line."""
    pieces = split_text("\x0304,12red\x03 \x0303green\x03" * 20, limit)
    assert all(re.fullmatch(r"[a-z ]*", strip_irc_formatting(p)) for p in pieces)
