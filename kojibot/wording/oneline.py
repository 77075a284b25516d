"""An event's line fits one IRC line, and its link a second one, whatever the fields hold.

The texts of an event are capped where they enter (txkoji.limits), but a 768-character
NVR, a 255-character owner and a 256-character tag together are still three IRC lines.
``fit`` shortens the longest texts of a line first, each cut ending in an ellipsis, until
its words (links apart) take at most ``WORDS`` bytes of UTF-8.

IRC gives a line's text 512 bytes less ``:nick!user@host PRIVMSG #channel :`` and CR LF;
with a 30-character nick, the 10-character user and 64-character host a server may show,
and a 64-character channel, 327 bytes are left (kojibot.adapters.irc.lines). ``WORDS``
leaves room in that for the bold and colour codes. A link longer than ``LINK`` bytes is
left out, so a link that goes to a line of its own always fits it whole.
"""

from __future__ import annotations

from kojibot.chat.message import Message, Span
from txkoji.limits import ELLIPSIS

WORDS = 300  # bytes of an event line's words, links apart
LINK = 200  # bytes of the longest link an event line keeps
_CUT = len(ELLIPSIS.encode())


def link_fits(url: str | None) -> bool:
    return bool(url) and len(url.encode()) <= LINK


def fit(message: Message, budget: int = WORDS) -> Message:
    """*message*, its longest texts cut (longest first, evenly) to ``budget`` bytes in all."""
    words = [index for index, part in enumerate(message.parts)
             if isinstance(part, str) or part.style != "link"]
    sizes = [len(_text(message.parts[index]).encode()) for index in words]
    if sum(sizes) <= budget:
        return message
    most = _level(sizes, budget)
    parts = list(message.parts)
    for index, size in zip(words, sizes, strict=True):
        if size > most:
            parts[index] = _cut(parts[index], most)
    return Message(parts)


def _level(sizes: list[int], budget: int) -> int:
    """The largest size each text may keep so that together they take at most *budget*."""
    ordered = sorted(sizes)
    spent = 0
    for count, size in enumerate(ordered):
        left = len(ordered) - count
        if spent + size * left > budget:
            return max(_CUT + 1, (budget - spent) // left)
        spent += size
    return ordered[-1]


def _text(part: str | Span) -> str:
    return part if isinstance(part, str) else part.text


def _cut(part: str | Span, size: int) -> str | Span:
    kept = _text(part).encode()[:size - _CUT].decode("utf-8", "ignore") + ELLIPSIS
    return kept if isinstance(part, str) else Span(kept, part.style, part.state, part.url)
