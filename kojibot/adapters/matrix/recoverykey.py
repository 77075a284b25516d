"""The recovery key as Matrix clients show it: base58 (Bitcoin's alphabet) of ``8B 01``, the
32-byte secret storage key and a parity byte (the XOR of all bytes before it), in groups of
four characters. Pure Python, so ``kojibot.config`` can recognise one without the e2e extra.
"""

from __future__ import annotations

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
PREFIX = b"\x8b\x01"
KEY_BYTES = 32


def _parity(data: bytes) -> int:
    parity = 0
    for byte in data:
        parity ^= byte
    return parity


def _base58(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    digits = ""
    while number:
        number, digit = divmod(number, 58)
        digits = ALPHABET[digit] + digits
    return ALPHABET[0] * (len(data) - len(data.lstrip(b"\0"))) + digits


def _unbase58(text: str) -> bytes:
    number = 0
    for char in text:
        digit = ALPHABET.find(char)
        if digit < 0:
            raise ValueError("it has a character that is not base58")
        number = number * 58 + digit
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return b"\0" * (len(text) - len(text.lstrip(ALPHABET[0]))) + body


def encode(key: bytes) -> str:
    """*key* (32 bytes) as a recovery key, in groups of four."""
    if len(key) != KEY_BYTES:
        raise ValueError(f"a secret storage key is {KEY_BYTES} bytes")
    data = PREFIX + key
    text = _base58(data + bytes([_parity(data)]))
    return " ".join(text[i:i + 4] for i in range(0, len(text), 4))


def decode(text: str) -> bytes:
    """The 32-byte key in a recovery key (spaces and dashes ignored); ValueError saying
    what is wrong with it, never repeating it."""
    data = _unbase58("".join(text.replace("-", " ").split()))
    if len(data) != len(PREFIX) + KEY_BYTES + 1 or not data.startswith(PREFIX):
        raise ValueError("it is not a recovery key (wrong length or prefix)")
    if _parity(data[:-1]) != data[-1]:
        raise ValueError("its parity byte does not match (a mistyped character?)")
    return data[len(PREFIX):-1]


def looks_like(text: str) -> bool:
    """Whether *text* is a recovery key (what must never be written in the INI)."""
    try:
        decode(text)
    except ValueError:
        return False
    return True
