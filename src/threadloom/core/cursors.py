"""Opaque page cursors: what a page's ``first_id``/``last_id`` carry and ``after``/``before`` take.

A cursor holds the sort key of one item (a message's seq; a thread's timestamp and id), so
paging is keyset paging on an index: it costs one page whatever the offset, and neither skips
nor repeats items while new ones are appended.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from ..errors import ValidationFailed

__all__ = ["decode_cursor", "encode_cursor"]


def encode_cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).rstrip(b"=").decode()


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
        or not all(type(v) is t for v, t in zip(values, types, strict=True))
    ):
        raise ValidationFailed(
            f"{field} is not a cursor from this list; pass a page's first_id or last_id",
            errors=[{"loc": ["query", field], "msg": "invalid cursor", "type": "cursor"}],
        )
    return values
