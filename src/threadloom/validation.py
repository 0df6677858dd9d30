"""What any backend can store, decided once at the edge: every request passes these rules
before a service or a store sees it, so bad input is a 422 on SQLite, PostgreSQL and Redis
alike, and never a 500 on one of them.

- Text (in a JSON body at any depth, its object keys too, a query parameter, a header, a
  cursor) holds no NUL character (PostgreSQL refuses it) and no lone UTF-16 surrogate (it
  is not Unicode: no encoder writes it).
- Numbers are integers within signed 64 bits, or finite floats: NaN and Infinity are not
  JSON, and a wider integer fits no backend's JSON.
- JSON nests at most ``MAX_DEPTH`` levels, counted from the body itself.
- A page cursor decodes to the shape its list wrote, its values under these same rules
  (core/cursors.py); one that does not is a 422 on ``after``/``before``.
- ``metadata[KEY]=VALUE`` filters of a list: at most ``MAX_METADATA_FILTERS``; a key of 1 to
  ``FILTER_KEY_MAX_CHARS`` printable characters other than ``"`` and ``\\``; a value of at
  most ``FILTER_VALUE_MAX_CHARS`` characters.
- Decimal numbers in headers (``Last-Event-ID``, ``If-Match``) are ASCII digits within
  signed 64 bits (``"²".isdigit()`` is true in Python; ``int("²")`` fails).

Each rule raises ``ValidationFailed`` (422) whose ``errors`` name the offending field by
``loc``, never the offending value, so the answer and the log line stay valid whatever was
sent. This module imports only pydantic and the error tree: the client shares it through
``threadloom.models``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, BeforeValidator, model_validator

from .errors import ValidationFailed

__all__ = [
    "FILTER_KEY_MAX_CHARS",
    "FILTER_VALUE_MAX_CHARS",
    "INT64_MAX",
    "INT64_MIN",
    "MAX_DEPTH",
    "MAX_METADATA_FILTERS",
    "STORABLE_BODY",
    "StorableInput",
    "check_json",
    "check_metadata_filters",
    "check_request_strings",
    "check_text",
    "decimal_int64",
    "text_fault",
]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
MAX_DEPTH = 64
MAX_METADATA_FILTERS = 20
FILTER_KEY_MAX_CHARS = 128
FILTER_VALUE_MAX_CHARS = 1024

Loc = Sequence[str | int]

_WHY = {
    "nul_character": "contains a NUL character (\\u0000), which cannot be stored",
    "lone_surrogate": "contains a lone UTF-16 surrogate, which is not valid Unicode",
    "int_out_of_range": "is an integer outside the signed 64-bit range",
    "non_finite_number": "is NaN or Infinity, which JSON cannot carry",
    "too_deep": f"nests deeper than {MAX_DEPTH} levels",
}


def _where(loc: Loc) -> str:
    return ".".join(map(str, loc)) or "the request"


def _rejected(loc: Loc, kind: str, *, in_key: bool = False) -> ValidationFailed:
    why = ("has a key that " if in_key else "") + _WHY[kind]
    return ValidationFailed(
        f"{_where(loc)} {why}", errors=[{"loc": list(loc), "msg": why, "type": kind}]
    )


def text_fault(text: str) -> str | None:
    """Why ``text`` cannot be stored, or None."""
    if "\x00" in text:
        return "nul_character"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "lone_surrogate"
    return None


def check_text(text: str, loc: Loc) -> None:
    fault = text_fault(text)
    if fault is not None:
        raise _rejected(loc, fault)


def check_json(value: Any, loc: Loc) -> None:
    """Every rule on a JSON value (as parsed into Python), at any depth, keys included."""
    if not _surely_storable(value, 0):
        _walk(value, list(loc), 0)  # finds the fault, and where it is


def _surely_storable(value: Any, depth: int) -> bool:
    """The request path's check: exact types only, no location kept, text checked in line
    (most values are short text). False means "look closer": a fault, or a type it does
    not know (a subclass of str, a tuple)."""
    kind = type(value)
    if kind is dict:
        items: Iterable[Any] = value.values()
        for key in value:
            if type(key) is not str or "\x00" in key or not (key.isascii() or _utf8(key)):
                return False
    elif kind is list:
        items = value
    else:
        return _surely_storable_scalar(value)
    if depth >= MAX_DEPTH:
        return False
    for item in items:
        if type(item) is str:
            if "\x00" in item or not (item.isascii() or _utf8(item)):
                return False
        elif not _surely_storable(item, depth + 1):
            return False
    return True


def _surely_storable_scalar(value: Any) -> bool:
    kind = type(value)
    if kind is str:
        return "\x00" not in value and (value.isascii() or _utf8(value))
    if kind is int:
        return bool(INT64_MIN <= value <= INT64_MAX)
    if kind is float:
        return math.isfinite(value)
    return kind is bool or value is None


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _walk(value: Any, loc: list[str | int], depth: int) -> None:
    if isinstance(value, str):
        fault = text_fault(value)
        if fault is not None:
            raise _rejected(loc, fault)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise _rejected(loc, "int_out_of_range")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise _rejected(loc, "non_finite_number")
    elif isinstance(value, dict):
        if depth >= MAX_DEPTH:
            raise _rejected(loc, "too_deep")
        for key, item in value.items():
            if isinstance(key, str):
                fault = text_fault(key)
                if fault is not None:  # the key is not named: it is the bad value
                    raise _rejected(loc, fault, in_key=True)
            loc.append(key)
            _walk(item, loc, depth + 1)
            loc.pop()
    elif isinstance(value, (list, tuple)):
        if depth >= MAX_DEPTH:
            raise _rejected(loc, "too_deep")
        for index, item in enumerate(value):
            loc.append(index)
            _walk(item, loc, depth + 1)
            loc.pop()
    # Anything else (an already validated model passed in Python) was checked when made.


class StorableInput(BaseModel):
    """Base of every request model: its whole input passes ``check_json`` before any field
    is validated, so the first error names the exact place at any depth (``body.a.b.0``).
    A nested request model checks its part again, which the outer check has passed."""

    input_loc: ClassVar[str] = "body"
    """Where the model's input comes from, the first part of an error's ``loc``."""

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        check_json(data, (cls.input_loc,))
        return data


def _storable_body(value: Any) -> Any:
    check_json(value, ("body",))
    return value


STORABLE_BODY = BeforeValidator(_storable_body)
"""The same check for a body parameter whose type is not a request model (a merge patch,
a model also read from responses): ``Annotated[T, STORABLE_BODY]``."""


def check_request_strings(
    query_string: bytes,
    query_items: Callable[[], Iterable[tuple[str, str]]],
    headers: Iterable[tuple[bytes, bytes]],
) -> None:
    """No NUL in a query parameter (name or value) or a header. Percent-decoding cannot make a
    lone surrogate (invalid UTF-8 becomes U+FFFD), so NUL is the one fault left; it is
    looked for in the raw bytes first, which costs next to nothing when there is none."""
    if b"%00" in query_string or b"\x00" in query_string:
        for name, value in query_items():
            if "\x00" in name:
                raise _rejected(["query"], "nul_character", in_key=True)
            check_text(value, ["query", name])
    for header, header_value in headers:
        if b"\x00" in header_value or b"\x00" in header:
            where = ["header"] if b"\x00" in header else ["header", header.decode("latin-1")]
            raise _rejected(where, "nul_character")


def check_metadata_filters(filters: Sequence[tuple[str, str]]) -> None:
    if len(filters) > MAX_METADATA_FILTERS:
        detail = f"{len(filters)} metadata filters; at most {MAX_METADATA_FILTERS} may be given"
        raise ValidationFailed(
            detail, errors=[{"loc": ["query", "metadata"], "msg": detail, "type": "too_many"}]
        )
    for key, value in filters:
        if (
            not key
            or len(key) > FILTER_KEY_MAX_CHARS
            or not key.isprintable()
            or '"' in key
            or "\\" in key
        ):
            detail = (
                f"a metadata filter key must be 1 to {FILTER_KEY_MAX_CHARS} printable "
                'characters other than " and \\'
            )
            raise ValidationFailed(
                detail, errors=[{"loc": ["query", "metadata"], "msg": detail, "type": "filter_key"}]
            )
        loc = ["query", f"metadata[{key}]"]
        check_text(value, loc)
        if len(value) > FILTER_VALUE_MAX_CHARS:
            detail = f"a metadata filter value is at most {FILTER_VALUE_MAX_CHARS} characters"
            raise ValidationFailed(
                detail, errors=[{"loc": loc, "msg": detail, "type": "filter_value"}]
            )


def decimal_int64(text: str) -> int | None:
    """``text`` as a non-negative decimal integer (ASCII digits) within signed 64 bits, or
    None. Python's ``isdigit`` alone is not enough: ``"²".isdigit()`` is true."""
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    number = int(text)
    return number if number <= INT64_MAX else None
