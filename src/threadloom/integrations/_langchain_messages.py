"""LangChain messages as threadloom messages and back, for
``threadloom.integrations.langchain`` (needs langchain-core).

A message is stored with its role as the threadloom role (``user``, ``assistant``, ``system``,
``tool``, ``function``, or a ``ChatMessage``'s own role), its text as the content, the URLs of
its image blocks as the images, its id as the message id when that is a valid threadloom id,
an ``AIMessage``'s tool calls as the message's ``tool_calls`` (their ``args`` as the JSON
``arguments``), a ``ToolMessage``'s ``tool_call_id`` and any message's ``name`` as those
fields, and everything else (type, invalid tool calls, ``additional_kwargs``,
``response_metadata``, the id itself...) under ``metadata["langchain"]``, in the shape of
``langchain_core.messages.message_to_dict`` without the defaults, so it reads back equal.
What does not fit a field (a tool call without an id, a name over 256 characters) stays in
the metadata. Messages written to the thread by other means read back by their role, tool
calls and results included.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    messages_from_dict,
)

from ..ids import is_valid_id
from ..models import Message, MessageCreate, ToolCall

__all__ = ["METADATA_KEY", "ImagePath", "from_stored", "to_stored"]

METADATA_KEY = "langchain"
"""The key of a message's metadata that holds what its threadloom fields do not."""

_ROLES: tuple[tuple[type[BaseMessage], str], ...] = (
    (HumanMessage, "user"),
    (AIMessage, "assistant"),
    (SystemMessage, "system"),
    (ToolMessage, "tool"),
    (FunctionMessage, "function"),
)
_KINDS: dict[str, type[HumanMessage] | type[AIMessage] | type[SystemMessage]] = {
    "user": HumanMessage,
    "assistant": AIMessage,
    "system": SystemMessage,
}
_ROLE_CHARS = 64
_FIELD_CHARS = 256  # of a tool call id, a tool_call_id and a name
ImagePath = list[int | str]


def _fits(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= _FIELD_CHARS


def _move_tool_fields(
    message: BaseMessage, data: dict[str, Any], saved: dict[str, Any]
) -> dict[str, Any]:
    """The message's tool calls, tool call id and name as threadloom fields, taken out of
    ``data``; what of each call is not a field (its ``type``) stays in ``saved``."""
    fields: dict[str, Any] = {}
    calls = data.get("tool_calls")
    if isinstance(message, AIMessage) and calls and all(_fits(c.get("id")) for c in calls):
        fields["tool_calls"] = [
            {
                "id": c["id"],
                "type": "function",
                "function": {"name": c["name"], "arguments": orjson.dumps(c["args"]).decode()},
            }
            for c in calls
        ]
        saved["tool_calls"] = [
            {k: v for k, v in c.items() if k not in ("id", "name", "args")} for c in calls
        ]
        del data["tool_calls"]
    if isinstance(message, ToolMessage) and _fits(data.get("tool_call_id")):
        fields["tool_call_id"] = data.pop("tool_call_id")
    if _fits(data.get("name")):
        fields["name"] = data.pop("name")
    return fields


def _role_of(message: BaseMessage) -> str:
    if isinstance(message, ChatMessage):
        role = message.role
    else:
        role = next((role for kind, role in _ROLES if isinstance(message, kind)), message.type)
    return role if 0 < len(role) <= _ROLE_CHARS else "chat"


def to_stored(message: BaseMessage, taken: set[str]) -> MessageCreate:
    """``message`` as a threadloom message. ``taken``: the ids used so far in its batch, as a
    repeated one (a valid LangChain id, but not unique) is stored in the metadata only."""
    data: dict[str, Any] = message.model_dump(mode="json", exclude_defaults=True)
    data.pop("type", None)
    saved: dict[str, Any] = {"type": message.type, "data": data}
    images: list[str] = []
    if isinstance(message.content, str):
        text = data.pop("content")
    else:
        text, images, paths = _split_blocks(data["content"])
        if paths:
            saved["images"] = paths
    fields: dict[str, Any] = {
        "role": _role_of(message),
        "content": text,
        "images": images,
        "metadata": {METADATA_KEY: saved},
        **_move_tool_fields(message, data, saved),
    }
    if message.id is not None and is_valid_id(message.id) and message.id not in taken:
        taken.add(message.id)
        fields["id"] = message.id
    return MessageCreate(**fields)


def _split_blocks(blocks: list[Any]) -> tuple[str, list[str], list[ImagePath]]:
    """The text of content blocks, the URLs of their images and where each was. It blanks
    those URLs in ``blocks``: they are stored as the message's images, not in its metadata
    (whose limit a ``data:`` URL would soon pass)."""
    texts: list[str] = []
    images: list[str] = []
    paths: list[ImagePath] = []
    for index, block in enumerate(blocks):
        if isinstance(block, str):
            texts.append(block)
            continue
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        path = _image_url_path(block)
        if path is not None:
            images.append(_swap(block, path, ""))
            paths.append([index, *path])
    return "".join(texts), images, paths


def _is_url(value: object) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://", "data:"))


def _image_url_path(block: dict[str, Any]) -> list[str] | None:
    """Where an image block keeps its URL: OpenAI's ``image_url`` blocks and LangChain's
    standard ``image`` blocks."""
    kind = block.get("type")
    if kind == "image_url":
        inner = block.get("image_url")
        if _is_url(inner):
            return ["image_url"]
        if isinstance(inner, dict) and _is_url(inner.get("url")):
            return ["image_url", "url"]
    elif kind == "image" and _is_url(block.get("url")):
        return ["url"]
    return None


def _swap(container: Any, path: Sequence[int | str], value: object) -> Any:
    """Set the value at ``path`` in nested dicts and lists; return the one it replaced."""
    *parents, last = path
    for key in parents:
        container = container[key]
    old = container[last]
    container[last] = value
    return old


def from_stored(message: Message) -> BaseMessage:
    saved = message.metadata.get(METADATA_KEY)
    if isinstance(saved, dict):
        try:
            return _restored(saved, message)
        except (KeyError, IndexError, TypeError, ValueError):
            pass  # not as this adapter writes it: read it like any other message
    return _by_role(message)


def _restored(saved: dict[str, Any], message: Message) -> BaseMessage:
    data = dict(saved["data"])
    if message.name is not None and "name" not in data:
        data["name"] = message.name
    if message.tool_call_id is not None and "tool_call_id" not in data:
        data["tool_call_id"] = message.tool_call_id
    if message.tool_calls and "tool_calls" not in data:
        rests = saved.get("tool_calls") or [{} for _ in message.tool_calls]
        data["tool_calls"] = [
            {**_langchain_call(call), **rest}
            for call, rest in zip(message.tool_calls, rests, strict=True)
        ]
    if "content" in data:
        for path, url in zip(saved.get("images", []), message.images, strict=True):
            _swap(data["content"], path, url)
    else:
        data["content"] = message.content
    return messages_from_dict([{"type": saved["type"], "data": data}])[0]


def _by_role(message: Message) -> BaseMessage:
    """A message written by other means: its role's kind of message, its text and images."""
    content: str | list[str | dict[str, Any]] = message.content
    if message.images:
        blocks: list[str | dict[str, Any]] = []
        if message.content:
            blocks.append({"type": "text", "text": message.content})
        blocks.extend({"type": "image_url", "image_url": {"url": url}} for url in message.images)
        content = blocks
    if message.role == "assistant" and message.tool_calls:
        calls, invalid = [], []
        for call in message.tool_calls:
            try:
                calls.append(_langchain_call(call))
            except ValueError:  # arguments that are not a JSON object, as LangChain keeps them
                invalid.append(
                    {
                        "name": call.function.name,
                        "args": call.function.arguments,
                        "id": call.id,
                        "error": "the arguments are not a JSON object",
                        "type": "invalid_tool_call",
                    }
                )
        return AIMessage(
            content=content,
            tool_calls=calls,
            invalid_tool_calls=invalid,
            id=message.id,
            name=message.name,
        )
    if message.role == "tool" and message.tool_call_id is not None:
        return ToolMessage(
            content=content, tool_call_id=message.tool_call_id, name=message.name, id=message.id
        )
    kind = _KINDS.get(message.role)
    if kind is None:
        return ChatMessage(content=content, role=message.role, id=message.id, name=message.name)
    return kind(content=content, id=message.id, name=message.name)


def _langchain_call(call: ToolCall) -> dict[str, Any]:
    """A stored tool call as LangChain's: its arguments parsed (ValueError if not JSON)."""
    args = orjson.loads(call.function.arguments)
    if not isinstance(args, dict):
        raise ValueError("tool call arguments are not a JSON object")
    return {"name": call.function.name, "args": args, "id": call.id, "type": "tool_call"}
