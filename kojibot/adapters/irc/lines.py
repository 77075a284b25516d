"""IRC lines without I/O: parsing, casefolding, splitting text to fit 512 bytes, CAP and SASL,
what a failure means. The connection's other pure parts: irc.options (settings, TLS),
irc.roster (who is where), irc.replyqueue (what waits to go out).
"""

from __future__ import annotations

import base64
import random
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from OpenSSL import SSL
from twisted.python.failure import Failure
from twisted.words.protocols.irc import ServerSupportedFeatures

from kojibot.chat import render
from kojibot.chat.model import Reply

LINE_LIMIT = 512  # bytes on the wire, CR LF included (RFC 1459/2812; IRCv3 tags excluded)
USERLEN, HOSTLEN = 10, 64  # when the server does not say (the user part may gain a "~")
WHOX_TOKEN = "152"  # marks the answers to our own WHO requests

WANTED_CAPS = ("multi-prefix", "extended-join", "account-tag", "account-notify", "echo-message",
               "message-tags", "server-time")
BOT_TAGS = ("bot", "draft/bot", "inspircd.org/bot")  # a line from a user in bot mode
_COLOUR = re.compile(r"\x03(?:\d{1,2}(?:,\d{1,2})?)?")
_TAG_ESCAPES = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}
_RFC1459 = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ[]\\~", "abcdefghijklmnopqrstuvwxyz{}|^")
_ASCII = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True)
class Line:
    """One line from the server: IRCv3 tags, source prefix, command and parameters."""

    command: str
    params: tuple[str, ...] = ()
    prefix: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def nick(self) -> str:
        return self.prefix.split("!", 1)[0]

    @property
    def from_bot(self) -> bool:
        """The server says a bot sent this (IRCv3 bot mode's message tag)."""
        return any(tag in self.tags for tag in BOT_TAGS)

    @property
    def time(self) -> float | None:
        """When the server got this line (IRCv3 server-time), in Unix seconds."""
        stamp = self.tags.get("time", "")
        try:
            return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None


def parse(raw: str) -> Line:
    """Parse a line as sent by a server (no CR/LF)."""
    tags: dict[str, str] = {}
    if raw.startswith("@"):
        tag_text, _, raw = raw[1:].partition(" ")
        for item in tag_text.split(";"):
            key, _, value = item.partition("=")
            if key:
                tags[key] = _unescape_tag(value)
    raw = raw.lstrip(" ")
    prefix = ""
    if raw.startswith(":"):
        prefix, _, raw = raw[1:].partition(" ")
    raw, sep, trailing = raw.partition(" :")
    words = raw.split()
    if not words:
        raise ValueError(f"no command in IRC line {raw!r}")
    params = words[1:] + ([trailing] if sep else [])
    return Line(words[0].upper(), tuple(params), prefix, tags)


def _unescape_tag(value: str) -> str:
    return re.sub(r"\\(.?)", lambda m: _TAG_ESCAPES.get(m.group(1), m.group(1)), value)


def casefold(name: str, casemapping: str = "rfc1459") -> str:
    """Nick/channel comparison key under the server's CASEMAPPING."""
    return name.translate(_ASCII if casemapping == "ascii" else _RFC1459)


def text_budget(target: str, source: str) -> int:
    """Bytes left for the text of ``:source PRIVMSG target :text\\r\\n`` in 512."""
    overhead = len(f":{source} PRIVMSG {target} :\r\n".encode())
    return LINE_LIMIT - overhead


def worst_source(nick: str, isupport: ServerSupportedFeatures | None = None) -> str:
    """A stand-in for our ``nick!user@host`` as others see it, before we have seen it:
    as long as the server's USERLEN and HOSTLEN allow."""
    userlen, hostlen = (_feature_int(isupport, "USERLEN", USERLEN),
                        _feature_int(isupport, "HOSTLEN", HOSTLEN))
    return f"{nick}!~{'u' * userlen}@{'h' * hostlen}"


def _feature_int(isupport: ServerSupportedFeatures | None, name: str, default: int) -> int:
    value = isupport.getFeature(name) if isupport else None
    try:
        return int(value[0] if isinstance(value, tuple) else value)
    except (TypeError, ValueError, IndexError):
        return default


def _atoms(text: str) -> Iterator[str]:
    """Pieces never to cut apart: a colour code, a character with its combining marks."""
    i, n = 0, len(text)
    while i < n:
        colour = _COLOUR.match(text, i)
        if colour:
            yield colour.group()
            i = colour.end()
            continue
        j = i + 1
        while j < n and (unicodedata.combining(text[j]) or text[j] in "\u200d\ufe0e\ufe0f"
                         or text[j - 1] == "\u200d"):
            j += 1
        yield text[i:j]
        i = j


def split_text(text: str, limit: int) -> list[str]:
    """Cut *text* into pieces of at most *limit* UTF-8 bytes, at spaces when sensible.

    A piece never ends inside a character, a colour code or a combining sequence; it
    breaks at the last space when that keeps at least half the room used.
    """
    if limit < 4:
        raise ValueError(f"no room for text in an IRC line (limit {limit})")
    atoms: list[str] = []
    for atom in _atoms(text):
        atoms.extend(atom if len(atom.encode()) > limit else [atom])
    sizes = [len(atom.encode()) for atom in atoms]
    pieces, start = [], 0
    while start < len(atoms):
        end, size, space = start, 0, None
        while end < len(atoms) and size + sizes[end] <= limit:
            if atoms[end] == " " and size >= limit // 2:
                space = end
            size += sizes[end]
            end += 1
        if end < len(atoms) and atoms[end] != " " and space is not None:
            end = space
        piece = "".join(atoms[start:end]).rstrip(" ")
        if piece:
            pieces.append(piece)
        start = end
        while start < len(atoms) and atoms[start] == " ":
            start += 1
    return pieces


def privmsg_lines(target: str, text: str, source: str) -> list[str]:
    """PRIVMSG lines for *text* that stay within 512 bytes as relayed from *source*."""
    return [f"PRIVMSG {target} :{piece}"
            for piece in split_text(text, text_budget(target, source))]


def reply_lines(reply: Reply, colours: bool, source: str) -> list[str]:
    """The wire lines for *reply*: rendered, mention first in a room, split to fit."""
    target = reply.target.name
    if not target or re.search(r"[\s,\0]", target):
        raise ValueError(f"cannot send to {target!r}: not a nick or channel")
    text = render.irc(reply.message, colours=colours or reply.target.direct)
    if reply.mention and not reply.target.direct:
        text = f"{render.clean(reply.mention)}: {text}"
    return privmsg_lines(target, text, source)


def room_of(target: str, chantypes: str, symbols: str) -> str | None:
    """The channel a PRIVMSG went to (``@#chan`` is #chan's ops), or None for a DM."""
    if target[:1] not in chantypes:
        target = target.lstrip(symbols)
    return target if target[:1] in chantypes else None


def alternate_nick(wanted: str, attempt: int) -> str:
    """``kojibot_``, ``kojibot__``, then ``kojibot`` with three random digits."""
    if attempt <= 2:
        return wanted + "_" * attempt
    return f"{wanted[:7]}{random.randrange(1000):03d}"


def sasl_mechanism(offered: dict[str, str], certificate: bool, password: bool) -> str | None:
    """The SASL mechanism to use: EXTERNAL with a client certificate, else PLAIN with a
    password; None if the server offers neither (a bare ``sasl`` takes any)."""
    if "sasl" not in offered:
        return None
    takes = offered["sasl"].split(",") if offered["sasl"] else ["EXTERNAL", "PLAIN"]
    for mechanism, configured in (("EXTERNAL", certificate), ("PLAIN", password)):
        if configured and mechanism in takes:
            return mechanism
    return None


def cap_request(offered: dict[str, str], sasl: bool) -> str:
    """What to answer a complete CAP LS: the caps we use (sasl if we log in with it), or END."""
    want = [cap for cap in WANTED_CAPS if cap in offered] + (["sasl"] if sasl else [])
    return "CAP REQ :" + " ".join(want) if want else "CAP END"


def describe_failure(reason: Failure, host: str) -> str:
    """One line saying why a connection ended, with a hint for TLS trouble."""
    if reason.check(SSL.Error):
        errors = [err[-1] for err in (reason.value.args[0] if reason.value.args else [])
                  if isinstance(err, tuple)]
        why = "; ".join(errors) or str(reason.value)
        hint = (" (the server's certificate is not trusted: set tls_ca to the network's CA "
                "file)" if "certificate verify failed" in why else "")
        return f"TLS handshake failed: {why}{hint}"
    if type(reason.value).__name__ == "VerificationError":  # service_identity
        return f"TLS certificate does not match {host}: {reason.value}"
    return reason.getErrorMessage()


def sasl_plain(username: str, password: str) -> list[str]:
    """AUTHENTICATE payloads for SASL PLAIN: base64 in 400-byte chunks, "+" if it ends even."""
    return _authenticate(f"{username}\0{username}\0{password}".encode())


def sasl_external() -> list[str]:
    """AUTHENTICATE payloads for SASL EXTERNAL: no authorization id, the certificate says who."""
    return _authenticate(b"")


def _authenticate(data: bytes) -> list[str]:
    payload = base64.b64encode(data).decode()
    if not payload:
        return ["+"]
    chunks = [payload[i:i + 400] for i in range(0, len(payload), 400)]
    if len(chunks[-1]) == 400:
        chunks.append("+")
    return chunks


def cap_list(text: str) -> dict[str, str]:
    """``"sasl=PLAIN,EXTERNAL echo"`` → ``{"sasl": "PLAIN,EXTERNAL", "echo": ""}``."""
    caps = {}
    for item in text.split():
        name, _, value = item.partition("=")
        caps[name.lstrip("-~=")] = value
    return caps


