"""Identifiers: generated ids sort by creation time; client-chosen ids follow one pattern."""

from __future__ import annotations

import itertools
import os
import re
import time
from collections.abc import Callable

__all__ = ["ID_PATTERN", "ProcessSequence", "is_valid_id", "new_id"]

ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"
_ID_RE = re.compile(ID_PATTERN)
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case
_RANDOM_CHARS = 16
"""80 random bits: one base32 character (5 bits) from each of 16 random bytes."""
_BYTE_TO_CHAR = bytes(ord(_ALPHABET[byte & 31]) for byte in range(256))
"""A byte's low 5 bits as its character: 256 is a multiple of 32, so a uniformly random
byte gives a uniformly random character."""
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
    a millisecond and the random part with one ``bytes.translate`` of ``os.urandom`` bytes."""
    global _clock
    millis = time.time_ns() // 1_000_000
    clock = _clock  # one read: another thread may replace it meanwhile
    if clock[0] != millis:
        clock = _clock = (millis, _time_part(millis))
    random_part = os.urandom(_RANDOM_CHARS).translate(_BYTE_TO_CHAR).decode()
    return f"{prefix}_{clock[1]}{random_part}"


def is_valid_id(value: str) -> bool:
    return bool(_ID_RE.match(value))


class ProcessSequence:
    """Numbers 1, 2, 3, ... behind a random part drawn once per process (again in a forked
    child): ids unique across processes and increasing within one, far cheaper than a new
    random id each, and not secret. ``next()`` gives the part and the number."""

    def __init__(self, new_part: Callable[[], str]) -> None:
        self._new_part = new_part
        self.part = new_part()
        self._numbers = itertools.count(1)
        os.register_at_fork(after_in_child=self._renew)

    def _renew(self) -> None:
        self.part = self._new_part()

    def next(self) -> tuple[str, int]:
        return self.part, next(self._numbers)
