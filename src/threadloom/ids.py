"""Identifiers: generated ids sort by creation time; client-chosen ids follow one pattern."""

from __future__ import annotations

import base64
import os
import re
import time

__all__ = ["ID_PATTERN", "is_valid_id", "new_id"]

ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"
_ID_RE = re.compile(ID_PATTERN)
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case
_CROCKFORD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", _ALPHABET.encode())
_clock: tuple[int, str] = (-1, "")


def _time_part(millis: int) -> str:
    chars = []
    for _ in range(10):
        chars.append(_ALPHABET[millis & 31])
        millis >>= 5
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """A ULID-like id: 48 bits of milliseconds then 80 random bits in lower-case Crockford
    base32, e.g. ``msg_01j...``. It is on the append path, so the time part is computed once
    a millisecond and the random part by ``base64.b32encode`` (80 bits: 16 characters)."""
    global _clock
    millis = time.time_ns() // 1_000_000
    if _clock[0] != millis:
        _clock = (millis, _time_part(millis))
    random_part = base64.b32encode(os.urandom(10)).translate(_CROCKFORD).decode()
    return f"{prefix}_{_clock[1]}{random_part}"


def is_valid_id(value: str) -> bool:
    return bool(_ID_RE.match(value))
