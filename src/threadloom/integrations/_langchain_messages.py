"""LangChain messages as threadloom messages and back, for
``threadloom.integrations.langchain`` (needs langchain-core).

A message is stored with its role as the threadloom role (``user``, ``assistant``, ``system``,
``tool``, ``function``, or a ``ChatMessage``'s own role), its text as the content, the URLs of
its image blocks as the images, its id as the message id when that is a valid threadloom id,
and everything else (type, name, tool calls, ``additional_kwargs``, ``response_metadata``,
the id itself...) under ``metadata["langchain"]``, in the shape of
``langchain_core.messages.message_to_dict`` without the defaults, so it reads back equal.
Messages written to the thread by other means read back by their role.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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
from ..models import Message, MessageCreate

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
ImagePath = list[int | str]


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
    kind = _KINDS.get(message.role)
    if kind is None:
        return ChatMessage(content=content, role=message.role, id=message.id)
    return kind(content=content, id=message.id)
