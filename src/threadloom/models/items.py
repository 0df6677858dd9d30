"""Provider items: a message may *be* an item of OpenAI's Responses/Conversations item
union, kept whole, with the message's own fields derived from it once, here.

An item is any JSON object with a string ``type``. The types a model reads are checked for
the fields they need, and become the message a chat sends:

- ``message``: its ``role``, its text (a string ``content``, or the ``text`` of its
  ``input_text``/``output_text`` parts and the ``refusal`` of its ``refusal`` parts) and the
  http(s) or ``data:`` URLs of its ``input_image`` parts;
- ``function_call``: an assistant message with that one tool call (``call_id``, ``name``,
  ``arguments``);
- ``function_call_output``: a ``tool`` message answering ``call_id``, its ``output`` as the
  text (a string, or the text of its parts).

Every other type (``reasoning``, ``file_search_call``, types that do not exist yet) is kept
as it is, with its type as the role and no text; the chat context leaves such items out.
The item comes back equal as JSON, with the message's id as its ``id``: the client's when
it had one, else a new one.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import PydanticCustomError

__all__ = ["MODEL_ITEM_TYPES", "derived_fields", "item_type"]

MODEL_ITEM_TYPES = frozenset({"message", "function_call", "function_call_output"})
"""The item types a model is sent (as a message, a tool call, a tool result)."""

_TYPE_CHARS = 64


def _fail(detail: str) -> PydanticCustomError:
    return PydanticCustomError("item_invalid", "item: {detail}", {"detail": detail})


def _string(item: dict[str, Any], key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str):
        raise _fail(f"a {item['type']} item needs {key!r} as a string")
    return value


def _parts_text(parts: list[Any], *, field: str) -> str:
    texts = []
    for part in parts:
        if not isinstance(part, dict):
            raise _fail(f"each part of {field!r} is an object")
        kind = part.get("type")
        if kind in ("input_text", "output_text", "text") and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind == "refusal" and isinstance(part.get("refusal"), str):
            texts.append(part["refusal"])
    return "".join(texts)


def _image_urls(parts: list[Any]) -> list[str]:
    urls = []
    for part in parts:
        url = part.get("image_url") if part.get("type") == "input_image" else None
        if isinstance(url, str) and url.startswith(("http://", "https://", "data:")):
            urls.append(url)
    return urls


def item_type(item: Any) -> str:
    """The item's type, checked: an object with a ``type`` of 1 to 64 characters."""
    if not isinstance(item, dict):
        raise _fail("an item is a JSON object")
    kind = item.get("type")
    if not isinstance(kind, str) or not 0 < len(kind) <= _TYPE_CHARS:
        raise _fail(f"an item has a 'type' of 1 to {_TYPE_CHARS} characters")
    return kind


def derived_fields(item: dict[str, Any]) -> dict[str, Any]:
    """The message fields an item gives: role, content, images, tool fields."""
    kind = item_type(item)
    if kind == "message":
        role = _string(item, "role")
        content = item.get("content")
        if isinstance(content, str):
            return {"role": role, "content": content}
        if not isinstance(content, list):
            raise _fail("a message item's 'content' is a string or a list of parts")
        text = _parts_text(content, field="content")
        return {"role": role, "content": text, "images": _image_urls(content)}
    if kind == "function_call":
        call = {
            "id": _string(item, "call_id"),
            "type": "function",
            "function": {"name": _string(item, "name"), "arguments": _string(item, "arguments")},
        }
        return {"role": "assistant", "content": "", "tool_calls": [call]}
    if kind == "function_call_output":
        output = item.get("output")
        if isinstance(output, list):
            text = _parts_text(output, field="output")
        elif isinstance(output, str):
            text = output
        else:
            raise _fail("a function_call_output item's 'output' is a string or a list of parts")
        return {"role": "tool", "content": text, "tool_call_id": _string(item, "call_id")}
    return {"role": kind, "content": ""}
