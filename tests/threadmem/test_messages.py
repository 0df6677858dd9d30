"""``RoleMessage.to_create``: the validated append body of a message, however it was set."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from threadloom._threadmem.messages import RoleMessage
from threadloom.models import MessageCreate


def test_a_plain_message_gives_the_defaults() -> None:
    message = RoleMessage("user", "hello")
    body = message.to_create()
    assert body == MessageCreate(
        id=message.id, role="user", content="hello", images=[], private=False, metadata={}
    )
    assert body.model_fields_set == {"id", "role", "content"}  # all a remote append sends


def test_every_field_is_carried() -> None:
    message = RoleMessage(
        "assistant", "hi", images=["https://x.test/a.png"], private=True, metadata={"k": [1]}
    )
    body = message.to_create()
    assert body.model_dump() == {
        "id": message.id,
        "role": "assistant",
        "content": "hi",
        "images": ["https://x.test/a.png"],
        "private": True,
        "metadata": {"k": [1]},
        # A RoleMessage has no tool fields (the original API had none).
        "tool_calls": None,
        "tool_call_id": None,
        "name": None,
        "item": None,
    }


@pytest.mark.parametrize(
    ("attribute", "value", "expected"),
    [
        ("private", None, False),
        ("private", 1, True),
        ("metadata", None, {}),
        ("metadata", {}, {}),
        ("images", (), []),
    ],
)
def test_falsy_or_loose_values_become_what_they_always_did(
    attribute: str, value: Any, expected: Any
) -> None:
    message = RoleMessage("user", "hello")
    setattr(message, attribute, value)
    assert getattr(message.to_create(), attribute) == expected


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("role", ""),
        ("role", "r" * 65),
        ("id", "not an id"),
        ("images", None),
        ("images", ["ftp://x.test/a.png"]),
        ("metadata", [1]),
        ("text", None),
    ],
)
def test_invalid_values_are_refused(attribute: str, value: Any) -> None:
    message = RoleMessage("user", "hello")
    setattr(message, attribute, value)
    with pytest.raises(ValidationError):
        message.to_create()
