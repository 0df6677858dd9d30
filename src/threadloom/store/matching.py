"""What a thread listing's ``q`` and ``metadata[KEY]=VALUE`` filters match, decided once.

Every backend answers these two filters from values computed here, in Python, when a thread
is written (SQLite and PostgreSQL store them in the ``title_folded`` and ``metadata_terms``
columns, Redis in the thread's hash), so that no database's own text functions take part
and every backend gives the same answer. :func:`title_matches` and :func:`metadata_matches`
are the definitions; the property test of ``tests/store/test_matching.py`` holds each
backend to them.

``q``: a substring of the title after Unicode case folding (``str.casefold``) of both, so
``q=école`` finds "École du soir" and ``q=strasse`` finds "Straße". No other normalisation:
a precomposed "é" and "e" followed by a combining accent are different text. A thread
without a title matches no ``q``; an empty ``q`` is no filter.

``metadata[KEY]=VALUE``: VALUE (always text in a query string) matches a thread whose
metadata has KEY with a scalar value equal to it:

* a string: VALUE is that text (``1`` does not match the string ``"1.0"``);
* ``true``/``false``: VALUE is ``true``/``false``;
* a number: VALUE is a JSON number with the same value. A number's value is what JSON
  parsing makes of it, an exact integer when it has no fraction or exponent and an IEEE
  double otherwise, and integers and doubles compare exactly. So ``1``, ``1.0`` and
  ``1e0`` match each other, ``1e+20`` matches ``100000000000000000000``, ``0.1`` matches
  ``0.10``, and ``9007199254740993`` does not match ``9007199254740993.0`` (that double
  is 2**53).

``null``, objects and arrays match nothing, whatever VALUE is.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "filter_terms",
    "fold",
    "metadata_matches",
    "metadata_term",
    "metadata_terms",
    "search_columns",
    "title_matches",
]

_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_MAX_DIGITS = 4000
"""Longer integers than this are no number Python converts from text (and none a store
keeps): such a VALUE is compared as text only."""


def fold(text: str) -> str:
    """The case-folded form both sides of ``q`` are compared in."""
    return text.casefold()


def title_matches(title: str | None, q: str) -> bool:
    return title is not None and fold(q) in fold(title)


def _number_term(value: int | float) -> str | None:
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if value.is_integer():
            return f"n:{int(value)}"
        return f"n:{value!r}"
    return f"n:{value}"


def metadata_term(value: Any) -> str | None:
    """The one term a metadata value matches by, or None for a value that matches
    nothing (null, objects, arrays)."""
    if isinstance(value, str):
        return "s:" + value
    if isinstance(value, bool):
        return "b:true" if value else "b:false"
    if isinstance(value, int | float):
        return _number_term(value)
    return None


def metadata_terms(metadata: Mapping[str, Any]) -> dict[str, str]:
    """KEY → term for every metadata key that can match (what the stores keep)."""
    terms = {}
    for key, value in metadata.items():
        term = metadata_term(value)
        if term is not None:
            terms[key] = term
    return terms


def _parse_number(text: str) -> int | float | None:
    found = _JSON_NUMBER.fullmatch(text)
    if found is None or len(text) > _MAX_DIGITS:
        return None
    if found.group(1) is None and found.group(2) is None:
        return int(text)
    return float(text)


def filter_terms(value: str) -> tuple[str, ...]:
    """The terms a filter VALUE matches: as text, and as a boolean or a number when it is
    one. A thread matches when its term for KEY is one of them."""
    terms = ["s:" + value]
    if value in ("true", "false"):
        terms.append("b:" + value)
    number = _parse_number(value)
    if number is not None:
        term = _number_term(number)
        if term is not None:
            terms.append(term)
    return tuple(terms)


def metadata_matches(metadata: Mapping[str, Any], filters: Iterable[tuple[str, str]]) -> bool:
    for key, value in filters:
        if key not in metadata:
            return False
        term = metadata_term(metadata[key])
        if term is None or term not in filter_terms(value):
            return False
    return True


def search_columns(changes: Mapping[str, Any]) -> dict[str, Any]:
    """The stored match columns that go with a write of ``title`` and/or ``metadata``:
    ``title_folded`` (None without a title) and ``metadata_terms``."""
    out: dict[str, Any] = {}
    if "title" in changes:
        title = changes["title"]
        out["title_folded"] = fold(title) if title is not None else None
    if "metadata" in changes:
        out["metadata_terms"] = metadata_terms(changes["metadata"])
    return out
