"""The list envelope every list endpoint answers with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ..store.base import PageSlice

__all__ = ["page_of"]

RowT = TypeVar("RowT")


def page_of(slice_: PageSlice[RowT], cursor_of: Callable[[RowT], str]) -> dict[str, Any]:
    rows = slice_.rows
    return {
        "object": "list",
        "data": rows,
        "has_more": slice_.has_more,
        "first_id": cursor_of(rows[0]) if rows else None,
        "last_id": cursor_of(rows[-1]) if rows else None,
    }
