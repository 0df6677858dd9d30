"""Opaque page cursors: what a page's ``first_id``/``last_id`` carry and ``after``/``before`` take.

A cursor holds the sort key of one item (a message's seq; a thread's timestamp and id), so
paging is keyset paging on an index: it costs one page whatever the offset, and neither skips
nor repeats items while new ones are appended.

A cursor comes back from the client, so it is input like any other: one that does not decode
to the shape its list makes (base64 of a JSON array of the right types, integers within
signed 64 bits, timestamps in the stores' form, text that validation.py accepts) is a 422
before it reaches a store.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from typing import Any

import orjson

from ..errors import ValidationFailed
from ..validation import INT64_MAX, INT64_MIN, text_fault

__all__ = ["Timestamp", "decode_cursor", "encode_cursor"]

_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


class Timestamp:
    """In ``decode_cursor``'s types: a timestamp as the stores write it (``format_ts``)."""


def encode_cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).rstrip(b"=").decode()


def _fits(value: Any, kind: type) -> bool:
    if kind is int:
        return type(value) is int and INT64_MIN <= value <= INT64_MAX
    if type(value) is not str:
        return False
    if text_fault(value) is not None:
        return False
    if kind is Timestamp:
        if not _TIMESTAMP.fullmatch(value):
            return False
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return False
    return kind in (str, Timestamp)


def decode_cursor(cursor: str, field: str, types: tuple[type, ...]) -> list[Any]:
    """Decode and check the shape (one value per type), or answer a clear 422."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        values = None
    if (
        not isinstance(values, list)
        or len(values) != len(types)
        or not all(_fits(v, t) for v, t in zip(values, types, strict=True))
    ):
        raise ValidationFailed(
            f"{field} is not a cursor from this list; pass a page's first_id or last_id",
            errors=[{"loc": ["query", field], "msg": "invalid cursor", "type": "cursor"}],
        )
    return values
