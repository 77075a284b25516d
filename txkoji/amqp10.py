"""A small, bounded decoder of AMQP 1.0 encodings (the spec's part 1, "Types"), without I/O.

RabbitMQ's AMQP 1.0 plugin hands an AMQP 0-9-1 consumer the raw 1.0 encodings of what koji's
``protonmsg`` plugin sent: the body is the amqp-value section (``00 53 77`` + a string), and
the headers ``x-amqp-1.0-properties`` / ``x-amqp-1.0-app-properties`` hold the properties and
application-properties sections. This module reads those, and nothing else: no encoder, no
frames. Every read is checked against the end of its buffer and nesting is limited, so any
input gives a value or an :class:`AMQPDecodeError`, never another exception.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

MAX_DEPTH = 32

# The bare message's sections, by descriptor code and by descriptor symbol.
SECTIONS = {
    0x70: "header", 0x71: "delivery-annotations", 0x72: "message-annotations",
    0x73: "properties", 0x74: "application-properties", 0x75: "data",
    0x76: "amqp-sequence", 0x77: "amqp-value", 0x78: "footer",
}
_SECTION_SYMBOLS = {
    "amqp:header:list": "header", "amqp:delivery-annotations:map": "delivery-annotations",
    "amqp:message-annotations:map": "message-annotations", "amqp:properties:list": "properties",
    "amqp:application-properties:map": "application-properties",
    "amqp:data:binary": "data", "amqp:amqp-sequence:list": "amqp-sequence",
    "amqp:amqp-value:*": "amqp-value", "amqp:footer:map": "footer",
}
# The fields of the properties section's list, in order.
PROPERTY_FIELDS = (
    "message-id", "user-id", "to", "subject", "reply-to", "correlation-id", "content-type",
    "content-encoding", "absolute-expiry-time", "creation-time", "group-id", "group-sequence",
    "reply-to-group-id",
)


class AMQPDecodeError(ValueError):
    """The bytes are not a well-formed AMQP 1.0 encoding (of the types read here)."""


class Symbol(str):
    """An AMQP symbol: ASCII text naming something (descriptors, annotation keys)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Described:
    """A described value: ``descriptor`` (ulong code or Symbol) qualifies ``value``."""

    descriptor: Any
    value: Any


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_S = struct.Struct
# Fixed-width numbers by constructor.
_NUMBERS: dict[int, struct.Struct] = {
    0x50: _S(">B"), 0x51: _S(">b"), 0x52: _S(">B"), 0x53: _S(">B"), 0x54: _S(">b"),
    0x55: _S(">b"), 0x60: _S(">H"), 0x61: _S(">h"), 0x70: _S(">I"), 0x71: _S(">i"),
    0x72: _S(">f"), 0x80: _S(">Q"), 0x81: _S(">q"), 0x82: _S(">d"),
}
_CONSTANTS = {0x40: None, 0x41: True, 0x42: False, 0x43: 0, 0x44: 0}
_DECIMALS = {0x74: 4, 0x84: 8, 0x94: 16}  # kept as raw bytes: nothing here needs their value
_ZERO_WIDTH = frozenset({0x40, 0x41, 0x42, 0x43, 0x44, 0x45})
_U8, _U32, _I64 = _S(">B"), _S(">I"), _S(">q")


def _need(pos: int, n: int, end: int) -> None:
    if pos + n > end:
        raise AMQPDecodeError(f"truncated at offset {pos}: need {n} bytes, {end - pos} left")


def _size(code: int, data: bytes, pos: int, end: int) -> tuple[int, int]:
    """The size prefix of a variable or compound value: one byte for 0xaX/0xcX/0xeX, else 4."""
    wide = code >> 4 in (0xb, 0xd, 0xf)
    fmt = _U32 if wide else _U8
    _need(pos, fmt.size, end)
    size = fmt.unpack_from(data, pos)[0]
    pos += fmt.size
    _need(pos, size, end)
    return size, pos


def _value(data: bytes, pos: int, end: int, depth: int) -> tuple[Any, int]:
    _need(pos, 1, end)
    code = data[pos]
    if code == 0x00:
        if depth >= MAX_DEPTH:
            raise AMQPDecodeError(f"nesting deeper than {MAX_DEPTH} at offset {pos}")
        descriptor, pos = _value(data, pos + 1, end, depth + 1)
        value, pos = _value(data, pos, end, depth + 1)
        return Described(descriptor, value), pos
    return _body(code, data, pos + 1, end, depth)


def _body(code: int, data: bytes, pos: int, end: int, depth: int) -> tuple[Any, int]:
    """The value whose constructor ``code`` was just read; its bytes start at ``pos``."""
    number = _NUMBERS.get(code)
    if number is not None:
        _need(pos, number.size, end)
        return number.unpack_from(data, pos)[0], pos + number.size
    if code in _CONSTANTS:
        return _CONSTANTS[code], pos
    if code == 0x45:
        return [], pos
    if code in (0xa0, 0xb0, 0xa1, 0xb1, 0xa3, 0xb3):
        size, pos = _size(code, data, pos, end)
        raw = data[pos:pos + size]
        return _text(code, raw, pos), pos + size
    if code in (0xc0, 0xd0, 0xc1, 0xd1, 0xe0, 0xf0):
        if depth >= MAX_DEPTH:
            raise AMQPDecodeError(f"nesting deeper than {MAX_DEPTH} at offset {pos}")
        return _compound(code, data, pos, end, depth + 1)
    if code == 0x56:
        _need(pos, 1, end)
        if data[pos] > 1:
            raise AMQPDecodeError(f"boolean byte {data[pos]:#x} at offset {pos}")
        return data[pos] == 1, pos + 1
    if code == 0x83:
        _need(pos, 8, end)
        millis = _I64.unpack_from(data, pos)[0]
        try:
            return _EPOCH + timedelta(milliseconds=millis), pos + 8
        except OverflowError:
            raise AMQPDecodeError(f"timestamp {millis} ms out of range") from None
    if code == 0x98:
        _need(pos, 16, end)
        return uuid.UUID(bytes=bytes(data[pos:pos + 16])), pos + 16
    if code == 0x73:
        _need(pos, 4, end)
        point = _U32.unpack_from(data, pos)[0]
        if point > 0x10FFFF or 0xD800 <= point <= 0xDFFF:
            raise AMQPDecodeError(f"char {point:#x} is not a Unicode scalar value")
        return chr(point), pos + 4
    if code in _DECIMALS:
        width = _DECIMALS[code]
        _need(pos, width, end)
        return bytes(data[pos:pos + width]), pos + width
    raise AMQPDecodeError(f"unknown constructor {code:#04x} at offset {pos - 1}")


def _text(code: int, raw: bytes, pos: int) -> Any:
    if code in (0xa0, 0xb0):
        return bytes(raw)
    try:
        if code in (0xa1, 0xb1):
            return raw.decode("utf-8")
        return Symbol(raw.decode("ascii"))
    except UnicodeDecodeError as exc:
        kind = "string" if code in (0xa1, 0xb1) else "symbol"
        raise AMQPDecodeError(f"{kind} at offset {pos} is not valid text: {exc.reason}") from None


def _compound(code: int, data: bytes, pos: int, end: int, depth: int) -> tuple[Any, int]:
    size, pos = _size(code, data, pos, end)
    stop = pos + size
    count_fmt = _U32 if code >> 4 in (0xd, 0xf) else _U8
    _need(pos, count_fmt.size, stop)
    count = count_fmt.unpack_from(data, pos)[0]
    pos += count_fmt.size
    if code in (0xe0, 0xf0):
        items, pos = _array(data, pos, stop, count, depth)
    else:
        if count > stop - pos:
            raise AMQPDecodeError(f"{count} items cannot fit in {stop - pos} bytes")
        items = []
        for _ in range(count):
            item, pos = _value(data, pos, stop, depth)
            items.append(item)
    if pos != stop:
        raise AMQPDecodeError(f"compound value ends at offset {pos}, its size says {stop}")
    if code in (0xc1, 0xd1):
        return _map(items), pos
    return items, pos


def _array(data: bytes, pos: int, stop: int, count: int, depth: int) -> tuple[list, int]:
    descriptor = None
    _need(pos, 1, stop)
    if data[pos] == 0x00:
        descriptor, pos = _value(data, pos + 1, stop, depth)
        _need(pos, 1, stop)
    code = data[pos]
    pos += 1
    if code == 0x00:
        raise AMQPDecodeError(f"array element constructor is nested at offset {pos - 1}")
    limit = 4096 if code in _ZERO_WIDTH else stop - pos
    if count > limit:
        raise AMQPDecodeError(f"{count} array items cannot fit in {stop - pos} bytes")
    items = []
    for _ in range(count):
        item, pos = _body(code, data, pos, stop, depth)
        items.append(item if descriptor is None else Described(descriptor, item))
    return items, pos


def _map(items: list) -> dict:
    if len(items) % 2:
        raise AMQPDecodeError(f"map holds an odd number of items ({len(items)})")
    out: dict = {}
    for i in range(0, len(items), 2):
        try:
            out[items[i]] = items[i + 1]
        except TypeError:
            raise AMQPDecodeError(f"map key {items[i]!r:.60} is not hashable") from None
    return out


def decode(data: bytes | bytearray | memoryview) -> Any:
    """The one value ``data`` encodes; trailing bytes are an error."""
    data = bytes(data)
    value, pos = _value(data, 0, len(data), 0)
    if pos != len(data):
        raise AMQPDecodeError(f"{len(data) - pos} bytes left after the value")
    return value


def decode_sections(data: bytes | bytearray | memoryview) -> list[tuple[str, Any]]:
    """``(name, value)`` for each message section in ``data`` (e.g. ``("amqp-value", "...")``)."""
    data = bytes(data)
    end = len(data)
    if not end:
        raise AMQPDecodeError("no sections: empty input")
    pos = 0
    sections = []
    while pos < end:
        value, pos = _value(data, pos, end, 0)
        name = section_name(value)
        if name is None:
            raise AMQPDecodeError(f"not a message section: {value!r:.60}")
        sections.append((name, value.value))
    return sections


def section_name(value: Any) -> str | None:
    """The section a described value is ("properties", "amqp-value", ...), or None."""
    if not isinstance(value, Described):
        return None
    descriptor = value.descriptor
    if isinstance(descriptor, str):
        return _SECTION_SYMBOLS.get(descriptor)
    if isinstance(descriptor, int) and not isinstance(descriptor, bool):
        return SECTIONS.get(descriptor)
    return None


def properties(value: Any) -> dict[str, Any]:
    """The properties section's list as a dict of the fields that are set."""
    if not isinstance(value, list):
        raise AMQPDecodeError(f"properties section is not a list: {value!r:.60}")
    return {name: item for name, item in zip(PROPERTY_FIELDS, value, strict=False)
            if item is not None}


def id_text(value: Any) -> str | None:
    """A message-id (ulong, uuid, binary or string) or a timestamp, as text."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, bytes):
        return value.hex()
    return value.isoformat() if isinstance(value, datetime) else str(value)[:128]


# What RabbitMQ's AMQP 1.0 plugin hands an AMQP 0-9-1 consumer ------------------------------


def to_bytes(value: Any) -> bytes:
    """Header or body bytes, which client libraries turn into text when they are valid UTF-8."""
    if isinstance(value, str):
        try:
            return value.encode("utf-8")
        except UnicodeEncodeError:
            raise AMQPDecodeError("text holding a lone surrogate is not bytes") from None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise AMQPDecodeError(f"neither bytes nor text: {type(value).__name__}")


def from_header(value: Any, section: str) -> Any:
    """The value of the one ``section`` an ``x-amqp-1.0-*`` header holds."""
    sections = decode_sections(to_bytes(value))
    if len(sections) != 1 or sections[0][0] != section:
        found = ", ".join(name for name, _ in sections)
        raise AMQPDecodeError(f"expected one {section} section, found {found}")
    return sections[0][1]


def delivery_text(body: Any) -> str:
    """The text of a delivery's body: what an AMQP 1.0 message carries, or the body itself."""
    if isinstance(body, str) and body.startswith("\x00"):
        body = to_bytes(body)
    if isinstance(body, (bytes, bytearray, memoryview)):
        body = bytes(body)
        if body.startswith(b"\x00"):
            return body_text(body)
        try:
            return body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise AMQPDecodeError(f"not UTF-8: {exc.reason} at {exc.start}") from None
    if not isinstance(body, str):
        raise AMQPDecodeError(f"neither bytes nor text: {type(body).__name__}")
    if not body.isascii():
        to_bytes(body)  # text from a caller may hold lone surrogates
    return body


def body_text(data: bytes) -> str:
    """The text of a body: one amqp-value string (or binary), or data sections, as UTF-8."""
    if data[:3] == b"\x00Sw" and len(data) >= 8 and data[3] in (0xa1, 0xb1):
        # The usual case, one string filling the body, read without the general decoder.
        head, size = (5, data[4]) if data[3] == 0xa1 else (8, _U32.unpack_from(data, 4)[0])
        if head + size == len(data):
            try:
                return data[head:].decode("utf-8")
            except UnicodeDecodeError:
                pass  # the general path below says what is wrong
    sections = decode_sections(data)
    values = [value for name, value in sections if name == "amqp-value"]
    chunks = [value for name, value in sections if name == "data"]
    if len(values) == 1 and not chunks:
        text = values[0]
    elif chunks and not values and all(isinstance(chunk, bytes) for chunk in chunks):
        text = b"".join(chunks)
    else:
        found = ", ".join(name for name, _ in sections)
        raise AMQPDecodeError(f"no single amqp-value or data body ({found})")
    if isinstance(text, bytes):
        try:
            return text.decode("utf-8")
        except UnicodeDecodeError:
            raise AMQPDecodeError("binary body is not UTF-8 text") from None
    if not isinstance(text, str):
        raise AMQPDecodeError(f"amqp-value is a {type(text).__name__}, not text")
    return text
