"""AMQP 0-9-1 deliveries from raw frames, without I/O: the bus consumer's hot path.

txamqp runs the connection (handshake, declare, bind, acks) but pushes every frame through
several Deferreds, reads field tables of four types only, and turns bodies into str. Here
the byte stream is split into frames; on the consuming channel, basic.deliver + content
header + body frames become one :class:`Delivery` (body as bytes, headers with every field
type RabbitMQ sends); every other frame is handed back untouched, in order, for txamqp.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from struct import error as StructError  # noqa: N812
from struct import pack, unpack_from
from typing import Any

FRAME_METHOD, FRAME_HEADER, FRAME_BODY, FRAME_END = 1, 2, 3, 0xCE
BASIC_DELIVER = (60, 60)  # class basic, method deliver
CONNECTION_START_OK = (10, 11)
MESSAGE_ID_FLAG = 0x0080
# The basic class's properties up to message-id, by flag bit: how to step over each.
_PROPERTIES = ((0x8000, "shortstr"), (0x4000, "shortstr"), (0x2000, "table"),
               (0x1000, "octet"), (0x0800, "octet"), (0x0400, "shortstr"),
               (0x0200, "shortstr"), (0x0100, "shortstr"), (MESSAGE_ID_FLAG, "shortstr"))
MAX_DEPTH = 16


class MalformedFrame(Exception):
    """The byte stream breaks the framing rules; the connection cannot go on."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message from the queue, as the consumer hands it to the handler."""

    routing_key: str
    headers: dict
    body: bytes
    delivery_tag: int
    redelivered: bool
    message_id: str | None = None  # the publisher's id (fedora-messaging sets a UUID)


class FrameReader:
    """Feed it bytes; get back Delivery objects and the raw frames it does not handle.

    Headers that cannot be decoded do not stop the message: it arrives with empty
    headers and ``problems`` says why (the consumer logs and clears it).
    """

    def __init__(self, channel: int):
        self.channel = channel
        self.problems: list[str] = []
        self._buffer = bytearray()
        self._deliver: tuple[str, int, bool] | None = None
        self._headers: dict | None = None
        self._message_id: str | None = None
        self._size = self._received = 0
        self._parts: list[bytes] = []

    def feed(self, data: bytes) -> list[Delivery | bytes]:
        buf = self._buffer
        buf += data
        out: list[Delivery | bytes] = []
        pos, length = 0, len(buf)
        while length - pos >= 8:
            kind, channel, size = unpack_from("!BHI", buf, pos)
            end = pos + 7 + size
            if end >= length:
                break
            if buf[end] != FRAME_END:
                raise MalformedFrame(f"frame end 0x{buf[end]:02x} instead of 0xce")
            if channel == self.channel and (self._deliver is not None or (
                    kind == FRAME_METHOD and size >= 4
                    and unpack_from("!HH", buf, pos + 7) == BASIC_DELIVER)):
                item = self._content(kind, buf, pos + 7, end)
                if item is not None:
                    out.append(item)
            else:
                out.append(bytes(buf[pos:end + 1]))
            pos = end + 1
        if pos:
            del buf[:pos]
        return out

    def _content(self, kind: int, buf: bytearray, start: int, end: int) -> Delivery | None:
        if kind == FRAME_METHOD:
            if self._deliver is not None:
                raise MalformedFrame("a method frame inside a message's content")
            try:
                pos = start + 5 + buf[start + 4]  # past class, method and the consumer tag
                tag, redelivered = unpack_from("!QB", buf, pos)
                pos += 10 + buf[pos + 9]  # past the exchange name
                if pos + 1 + buf[pos] > end:
                    raise IndexError(pos)
                routing_key = bytes(buf[pos + 1:pos + 1 + buf[pos]]).decode("utf-8", "replace")
            except (IndexError, StructError):
                raise MalformedFrame("truncated basic.deliver") from None
            self._deliver = (routing_key, tag, bool(redelivered & 1))
            return None
        if kind == FRAME_HEADER and self._headers is None:
            try:
                self._size, flags = unpack_from("!QH", buf, start + 4)
            except StructError:
                raise MalformedFrame("truncated content header") from None
            self._headers, self._message_id = self._read_properties(buf, start + 14, end, flags)
            return self._finish() if self._size == 0 else None
        if kind != FRAME_BODY or self._headers is None:
            raise MalformedFrame(f"frame type {kind} where message content was expected")
        self._parts.append(bytes(buf[start:end]))
        self._received += end - start
        if self._received > self._size:
            raise MalformedFrame("message body longer than its header says")
        return self._finish() if self._received == self._size else None

    def _read_properties(self, buf: bytearray, pos: int, end: int,
                         flags: int) -> tuple[dict, str | None]:
        """(headers, message-id) from the basic class's properties, in their fixed order."""
        headers, message_id = {}, None
        try:
            more = flags
            while more & 1:  # more property-flag words follow (not in basic, but legal)
                more, = unpack_from("!H", buf, pos)
                pos += 2
            for bit, kind in _PROPERTIES:
                if not flags & bit:
                    continue
                if kind == "table":
                    headers, pos = read_table(buf, pos, end)
                elif kind == "octet":
                    pos += 1
                elif bit == MESSAGE_ID_FLAG:
                    message_id = bytes(buf[pos + 1:pos + 1 + buf[pos]]).decode("utf-8", "replace")
                    pos += 1 + buf[pos]
                else:
                    pos += 1 + buf[pos]
                if pos > end:
                    raise MalformedFrame("properties run past their frame")
        except (MalformedFrame, IndexError, StructError, UnicodeDecodeError) as exc:
            self.problems.append(f"delivery {self._deliver[1]}: properties undecodable "
                                 f"({exc or type(exc).__name__}); delivered without them")
            return {}, None
        return headers, message_id

    def _finish(self) -> Delivery:
        routing_key, tag, redelivered = self._deliver
        body = self._parts[0] if len(self._parts) == 1 else b"".join(self._parts)
        delivery = Delivery(routing_key, self._headers, body, tag, redelivered, self._message_id)
        self._deliver = self._headers = self._message_id = None
        self._size = self._received = 0
        self._parts = []
        return delivery


def _text(raw: bytes) -> str | bytes:
    """Text when it is UTF-8 (as pika gives it), else the bytes as they came."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


def _fixed(fmt: str, size: int):
    return lambda buf, pos, depth: (unpack_from(fmt, buf, pos)[0], pos + size)


def _long_bytes(buf, pos, depth):
    size, = unpack_from("!I", buf, pos)
    if pos + 4 + size > len(buf):
        raise MalformedFrame("field longer than its frame")
    return bytes(buf[pos + 4:pos + 4 + size]), pos + 4 + size


def _long_string(buf, pos, depth):
    raw, pos = _long_bytes(buf, pos, depth)
    return _text(raw), pos


def _decimal(buf, pos, depth):
    scale, value = unpack_from("!Bi", buf, pos)
    return Decimal(value).scaleb(-scale), pos + 5


def _timestamp(buf, pos, depth):
    seconds, = unpack_from("!Q", buf, pos)
    return datetime.fromtimestamp(seconds, UTC), pos + 8


def _array(buf, pos, depth):
    size, = unpack_from("!I", buf, pos)
    pos, end, items = pos + 4, pos + 4 + size, []
    while pos < end:
        value, pos = _value(buf, pos, depth)
        items.append(value)
    return items, pos


def _table(buf, pos, depth):
    size, = unpack_from("!I", buf, pos)
    pos, end, table = pos + 4, pos + 4 + size, {}
    while pos < end:
        key = bytes(buf[pos + 1:pos + 1 + buf[pos]]).decode("utf-8", "replace")
        table[key], pos = _value(buf, pos + 1 + buf[pos], depth)
    if pos != end:
        raise MalformedFrame("field table size does not match its content")
    return table, pos


# RabbitMQ's field types (its errata to the 0-9-1 spec), by type octet.
_DECODERS: dict[int, Any] = {
    ord("t"): lambda buf, pos, depth: (buf[pos] != 0, pos + 1),
    ord("b"): _fixed("!b", 1), ord("B"): _fixed("!B", 1),
    ord("s"): _fixed("!h", 2), ord("u"): _fixed("!H", 2),
    ord("I"): _fixed("!i", 4), ord("i"): _fixed("!I", 4),
    ord("l"): _fixed("!q", 8), ord("L"): _fixed("!Q", 8),
    ord("f"): _fixed("!f", 4), ord("d"): _fixed("!d", 8),
    ord("D"): _decimal, ord("S"): _long_string, ord("x"): _long_bytes,
    ord("T"): _timestamp, ord("A"): _array, ord("F"): _table,
    ord("V"): lambda buf, pos, depth: (None, pos),
}


def _value(buf, pos, depth):
    if depth > MAX_DEPTH:
        raise MalformedFrame("field values nested too deep")
    decoder = _DECODERS.get(buf[pos])
    if decoder is None:
        raise MalformedFrame(f"unknown field type {chr(buf[pos])!r}")
    return decoder(buf, pos + 1, depth + 1)


def read_table(buf: bytes | bytearray, pos: int = 0, end: int | None = None) -> tuple[dict, int]:
    """Decode the field table at *pos*; (table, position after it)."""
    table, after = _table(buf, pos, 0)
    if end is not None and after > end:
        raise MalformedFrame("field table runs past its frame")
    return table, after


def start_ok_frame(client_properties: dict, mechanism: str, response: bytes,
                   locale: str = "en_US") -> bytes:
    """connection.start-ok, whose client properties hold nested tables and booleans
    (RabbitMQ reads its capabilities there), which txamqp cannot encode."""
    payload = (pack("!HH", *CONNECTION_START_OK) + encode_table(client_properties)
               + _short(mechanism) + pack("!I", len(response)) + response + _short(locale))
    return pack("!BHI", FRAME_METHOD, 0, len(payload)) + payload + bytes([FRAME_END])


def encode_table(table: dict) -> bytes:
    """A field table of str, bytes, bool, int and nested dict values."""
    body = b"".join(_short(key) + _encode_value(value) for key, value in table.items())
    return pack("!I", len(body)) + body


def _short(text: str) -> bytes:
    raw = text.encode()
    if len(raw) > 255:
        raise ValueError(f"short string of {len(raw)} bytes (255 at most)")
    return bytes([len(raw)]) + raw


def _encode_value(value: Any) -> bytes:
    if isinstance(value, bool):
        return b"t" + bytes([value])
    if isinstance(value, int):
        return b"l" + pack("!q", value)
    if isinstance(value, str | bytes):
        raw = value.encode() if isinstance(value, str) else value
        return (b"S" if isinstance(value, str) else b"x") + pack("!I", len(raw)) + raw
    if isinstance(value, dict):
        return b"F" + encode_table(value)
    raise TypeError(f"cannot encode {type(value).__name__} in a field table")
