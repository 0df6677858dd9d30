"""``LimitChecker.message``: every limit on one message, with where the failure is."""

from __future__ import annotations

from typing import Any

import pytest

from threadloom.config import Limits
from threadloom.core.limits import LimitChecker
from threadloom.errors import PayloadTooLarge, ValidationFailed
from threadloom.models import MessageCreate

CHECKER = LimitChecker(
    Limits(message_content_chars=10, metadata_bytes=20, images_per_message=2, image_url_chars=20)
)


def _failure(message: MessageCreate, loc: tuple[str | int, ...] = ()) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as caught:
        CHECKER.message(message, loc)
    return caught.value


def test_a_message_within_every_limit_passes() -> None:
    CHECKER.message(
        MessageCreate(
            content="x" * 10,
            images=["http://a.test/1", "http://a.test/" + "x" * 5],
            metadata={"k": "v" * 10},  # {"k":"vvvvvvvvvv"} is 18 bytes
        )
    )
    CHECKER.message(MessageCreate())


@pytest.mark.parametrize(
    ("fields", "loc", "detail"),
    [
        ({"content": "x" * 11}, ["content"], "the content is 11 characters; the limit is 10"),
        (
            {"images": ["http://a.test/1"] * 3},
            ["images"],
            "3 images; the limit is 2",
        ),
        (
            {"images": ["http://a.test/1", "http://a.test/" + "x" * 7]},
            ["images", 1],
            "image URL 1 is 21 characters; the limit is 20",
        ),
        ({"metadata": {"k": "v" * 20}}, ["metadata"], "metadata is 28 bytes; the limit is 20"),
    ],
)
def test_each_limit_names_the_field_under_the_given_location(
    fields: dict[str, Any], loc: list[str | int], detail: str
) -> None:
    failure = _failure(MessageCreate(**fields), ("messages", 3))
    assert isinstance(failure, PayloadTooLarge)
    assert failure.errors is not None
    (error,) = failure.errors
    assert error["loc"] == ["body", "messages", 3, *loc]
    assert error["type"] == "too_large"
    assert detail in error["msg"]


def test_metadata_that_cannot_be_stored_is_refused() -> None:
    # MessageCreate itself refuses it (threadloom/validation.py); the limit check still holds for
    # a message made without validation.
    failure = _failure(MessageCreate.model_construct(metadata={"n": 2**70}))
    assert not isinstance(failure, PayloadTooLarge)
    assert failure.errors is not None
    assert failure.errors[0]["loc"] == ["body", "metadata"]
