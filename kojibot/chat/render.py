"""Renderers of the message model: plain text (console, Matrix body), IRC (mIRC codes) and
HTML (Matrix ``formatted_body``).

Koji text is untrusted: every renderer first removes line breaks, NUL and other control
characters, so nothing from the hub can end an IRC line early or inject formatting; the
HTML renderer also escapes it and links only http(s) URLs.
"""

from __future__ import annotations

import html as _html
import re
import unicodedata

from kojibot.chat.message import Message, Span

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")

BOLD, COLOUR, RESET = "\x02", "\x03", "\x0f"

# mIRC colour numbers for Koji's build and task states.
STATE_COLOURS = {
    "COMPLETE": "03", "CLOSED": "03",  # green
    "FAILED": "04",  # red
    "CANCELED": "07", "DELETED": "07",  # orange
    "BUILDING": "12", "OPEN": "12", "ASSIGNED": "12",  # blue
    "FREE": "14",  # grey
}

# The same colours for Matrix HTML (mIRC's palette).
HTML_COLOURS = {"03": "#009300", "04": "#ff0000", "07": "#fc7f00", "12": "#0000fc",
                "14": "#7f7f7f"}


def clean(value: str) -> str:
    """One safe line: control characters become spaces, runs of spaces collapse."""
    value = _CONTROL.sub(" ", value)
    value = "".join(ch if unicodedata.category(ch) != "Cf" or ch == "\u200d" else " "
                    for ch in value)
    return re.sub(r" {2,}", " ", value)


def plain(message: Message) -> str:
    """The message as plain text."""
    return clean(message.plain()).strip()


def irc(message: Message, colours: bool = True) -> str:
    """The message with mIRC bold and colour codes (``colours=False`` for mode +c channels)."""
    out: list[str] = []
    for part in message.parts:
        if isinstance(part, str):
            out.append(clean(part))
        else:
            out.append(_irc_span(part, colours))
    return re.sub(r" {2,}", " ", "".join(out)).strip()


def _irc_span(span: Span, colours: bool) -> str:
    body = clean(span.text)
    if not colours or span.style in ("link", "code"):
        return body
    if span.style == "state":
        colour = STATE_COLOURS.get((span.state or "").upper())
        if colour:
            return f"{COLOUR}{colour}{body}{COLOUR}"
    return f"{BOLD}{body}{BOLD}"


def html(message: Message) -> str:
    """The message as Matrix HTML (org.matrix.custom.html): Koji text escaped, states in
    ``<font color data-mx-color>``, bold, code and http(s) links."""
    out = [_html.escape(clean(part), quote=False) if isinstance(part, str) else _html_span(part)
           for part in message.parts]
    return re.sub(r" {2,}", " ", "".join(out)).strip()


def _html_span(span: Span) -> str:
    body = _html.escape(clean(span.text), quote=False)
    if span.style == "code":
        return f"<code>{body}</code>"
    if span.style == "link":
        url = clean(span.url or span.text).strip()
        if not re.match(r"https?://", url, re.IGNORECASE):
            return body
        return f'<a href="{_html.escape(url, quote=True)}">{body}</a>'
    if span.style == "state":
        colour = HTML_COLOURS.get(STATE_COLOURS.get((span.state or "").upper(), ""))
        if colour:
            return f'<font color="{colour}" data-mx-color="{colour}">{body}</font>'
    return f"<b>{body}</b>"


def strip_irc_formatting(value: str) -> str:
    """Remove mIRC formatting codes (for channels that forbid them, and for tests)."""
    return re.sub(r"\x03(\d{1,2}(,\d{1,2})?)?|[\x02\x0f\x16\x1d\x1e\x1f]", "", value)
