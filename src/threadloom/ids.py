"""Identifiers: generated ids sort by creation time; client-chosen ids follow one pattern."""

from __future__ import annotations

import os
import re
import time

__all__ = ["ID_PATTERN", "is_valid_id", "new_id"]

ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"
_ID_RE = re.compile(ID_PATTERN)
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def _b32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """A ULID-like id: 48 bits of milliseconds then 80 random bits, e.g. ``thr_01j...``."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    return f"{prefix}_{_b32(millis, 10)}{_b32(rand, 16)}"


def is_valid_id(value: str) -> bool:
    return bool(_ID_RE.match(value))
