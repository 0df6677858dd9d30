"""The configurable size limits, checked before anything is written."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from ..config import Limits
from ..errors import PayloadTooLarge, ValidationFailed
from ..models import MessageCreate

__all__ = ["LimitChecker"]


def _too_large(loc: Sequence[str | int], detail: str) -> PayloadTooLarge:
    return PayloadTooLarge(
        detail, errors=[{"loc": ["body", *loc], "msg": detail, "type": "too_large"}]
    )


class LimitChecker:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    def json_value(self, value: Any, loc: Sequence[str | int], limit: int) -> None:
        try:
            size = len(orjson.dumps(value))
        except TypeError as exc:  # integers past 64 bits, which no backend can store
            where = ".".join(map(str, loc))
            raise ValidationFailed(
                f"{where} cannot be stored: {exc}",
                errors=[{"loc": ["body", *loc], "msg": str(exc), "type": "json_value"}],
            ) from exc
        if size > limit:
            raise _too_large(
                loc, f"{'.'.join(map(str, loc))} is {size} bytes; the limit is {limit}"
            )

    def metadata(self, value: dict[str, Any], loc: Sequence[str | int] = ("metadata",)) -> None:
        if len(value) > 0:
            self.json_value(value, loc, self.limits.metadata_bytes)

    def state(self, value: Any, loc: Sequence[str | int] = ("state",)) -> None:
        self.json_value(value, loc, self.limits.state_bytes)

    def title(self, value: str | None, loc: Sequence[str | int] = ("title",)) -> None:
        if value is not None and len(value) > self.limits.title_chars:
            raise _too_large(loc, f"the title is longer than {self.limits.title_chars} characters")

    def content(self, text: str, loc: Sequence[str | int]) -> None:
        if len(text) > self.limits.message_content_chars:
            raise self._content_too_large(text, loc)

    def _content_too_large(self, text: str, loc: Sequence[str | int]) -> PayloadTooLarge:
        return _too_large(
            loc,
            f"the content is {len(text)} characters; "
            f"the limit is {self.limits.message_content_chars}",
        )

    def message(self, message: MessageCreate, loc: Sequence[str | int] = ()) -> None:
        """Every limit on one message. It is on the append path: a message within them
        costs a few comparisons; an error's location is built only when one is exceeded."""
        limits = self.limits
        if len(message.content) > limits.message_content_chars:
            raise self._content_too_large(message.content, (*loc, "content"))
        if message.images:
            self._images(message.images, loc)
        if message.metadata:
            self.json_value(message.metadata, (*loc, "metadata"), limits.metadata_bytes)

    def _images(self, images: Sequence[str], loc: Sequence[str | int]) -> None:
        limits = self.limits
        if len(images) > limits.images_per_message:
            raise _too_large(
                (*loc, "images"),
                f"{len(images)} images; the limit is {limits.images_per_message}",
            )
        for index, url in enumerate(images):
            if len(url) > limits.image_url_chars:
                raise _too_large(
                    (*loc, "images", index),
                    f"image URL {index} is {len(url)} characters; the limit is "
                    f"{limits.image_url_chars}",
                )

    def messages(self, messages: Sequence[MessageCreate], loc: Sequence[str | int]) -> None:
        if len(messages) > self.limits.batch_messages:
            raise _too_large(
                loc, f"{len(messages)} messages; at most {self.limits.batch_messages} per batch"
            )
        for index, message in enumerate(messages):
            self.message(message, (*loc, index))
