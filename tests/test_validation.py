"""The rules of threadloom/validation.py, and its two checks agreeing: the request path's
quick one (``_surely_storable``) passes a value exactly when the exact walk finds no fault."""

from __future__ import annotations

from typing import Any

import pytest

from threadloom.errors import ValidationFailed
from threadloom.validation import (
    INT64_MAX,
    INT64_MIN,
    MAX_DEPTH,
    MAX_METADATA_FILTERS,
    _surely_storable,
    check_json,
    check_metadata_filters,
    decimal_int64,
)


def _nested(depth: int, leaf: Any) -> Any:
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


GOOD: list[Any] = [
    None,
    True,
    0,
    INT64_MAX,
    INT64_MIN,
    1.5e308,
    -0.0,
    "",
    "plain",
    "é😀\u2028\U0010ffff",
    {"ké": ["x", 1, None, {"y": False}]},
]
BAD: list[tuple[Any, str]] = [
    ("a\x00b", "nul_character"),
    ("\ud800", "lone_surrogate"),
    ("x\udfffy", "lone_surrogate"),
    (INT64_MAX + 1, "int_out_of_range"),
    (INT64_MIN - 1, "int_out_of_range"),
    (float("nan"), "non_finite_number"),
    (float("inf"), "non_finite_number"),
    (float("-inf"), "non_finite_number"),
    ({"k\x00": 1}, "nul_character"),
    ({"\udc80": 1}, "lone_surrogate"),
    (_nested(MAX_DEPTH + 1, 1), "too_deep"),
]
PLACES = [
    lambda v: v,
    lambda v: [1, "a", v],
    lambda v: {"a": {"b": [None, v]}},
]


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("value", GOOD)
def test_storable_values_pass_both_checks(value: Any, place: Any) -> None:
    assert _surely_storable(place(value), 0)
    check_json(place(value), ("body",))


def test_the_deepest_nesting_allowed_passes() -> None:
    assert _surely_storable(_nested(MAX_DEPTH, 1), 0)
    check_json(_nested(MAX_DEPTH, 1), ("body",))


def test_a_type_the_quick_check_does_not_know_goes_to_the_exact_walk() -> None:
    value = ("a tuple, as Python callers pass", 1)
    assert not _surely_storable(value, 0)
    check_json(value, ("body",))  # and passes there
    with pytest.raises(ValidationFailed):
        check_json(("x", "\x00"), ("body",))


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize(("value", "kind"), BAD)
def test_faults_fail_both_checks_and_are_located(value: Any, kind: str, place: Any) -> None:
    wrapped = place(value)
    assert not _surely_storable(wrapped, 0)
    with pytest.raises(ValidationFailed) as caught:
        check_json(wrapped, ("body",))
    assert caught.value.status_code == 422
    assert caught.value.errors is not None
    error = caught.value.errors[0]
    assert error["type"] == kind
    assert error["loc"][0] == "body"
    # Neither the location nor the message carries the bad text itself.
    assert "\x00" not in repr(caught.value.errors)
    assert "\\ud" not in repr(caught.value.errors).lower()


def test_a_fault_is_located_down_to_the_item() -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_json({"a": {"b": [None, "x\x00"]}}, ("body", "metadata"))
    assert caught.value.errors == [
        {
            "loc": ["body", "metadata", "a", "b", 1],
            "msg": "contains a NUL character (\\u0000), which cannot be stored",
            "type": "nul_character",
        }
    ]


@pytest.mark.parametrize(
    ("text", "number"),
    [("0", 0), ("42", 42), (str(INT64_MAX), INT64_MAX), (str(INT64_MAX + 1), None)]
    + [("²", None), ("٣", None), ("-1", None), ("", None), ("1.0", None), ("9" * 40, None)],
)
def test_decimal_int64_takes_ascii_digits_within_64_bits(text: str, number: int | None) -> None:
    assert decimal_int64(text) == number


@pytest.mark.parametrize(
    "filters",
    [
        [("", "v")],
        [("a\x00", "v")],
        [("a\nb", "v")],
        [('a"b', "v")],
        [("a\\b", "v")],
        [("k" * 129, "v")],
        [("k", "v" * 1025)],
        [("k", "\x00")],
        [(f"k{i}", "v") for i in range(MAX_METADATA_FILTERS + 1)],
    ],
)
def test_metadata_filters_out_of_bounds_are_422(filters: list[tuple[str, str]]) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_metadata_filters(filters)
    assert caught.value.errors is not None
    assert caught.value.errors[0]["loc"][0] == "query"


def test_metadata_filters_within_bounds_pass() -> None:
    filters = [(f"kéy {i}: x.y/z", "v" * 1024) for i in range(MAX_METADATA_FILTERS)]
    check_metadata_filters(filters)
