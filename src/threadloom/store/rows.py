"""The rows the store returns: one ``TypedDict`` per kind, in its wire shape.

A row is a plain dict (timestamps as RFC 3339 text, JSON columns decoded), so the request
path serializes it once with orjson and never builds model objects; orjson writes the keys
in the order the row was built, so that order is part of the wire format and every
definition lists its keys in that order. Each backend turns what its driver gives (a
sqlite3 row, an asyncpg record, a Redis hash) into these rows in its own ``rows.py``, one
builder per kind; the builders here make the rows a write knows without reading them back.
A new field is one line here plus one line in each backend's builder.

The ``...Changes`` dicts are what a mutation callback returns: the columns to change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, NotRequired, Required, TypedDict, TypeVar, cast

from ..models import MessageCreate, ThreadCreate, ThreadStatus
from ..models.keys import KeyRole

__all__ = [
    "ApiKeyRow",
    "AssistantChanges",
    "AssistantFields",
    "AssistantRow",
    "MessageRow",
    "NewApiKey",
    "SpaceChanges",
    "SpaceRow",
    "StateRow",
    "StateVersionRow",
    "ThreadChanges",
    "ThreadRow",
    "changed",
    "new_api_key_row",
    "new_assistant_row",
    "message_item",
    "new_message_rows",
    "new_space_row",
    "new_thread_row",
    "state_row",
]


class SpaceRow(TypedDict):
    object: Literal["space"]
    id: str
    name: str
    metadata: dict[str, Any]
    created_at: str
    default_thread_ttl_seconds: int | None


class SpaceChanges(TypedDict, total=False):
    name: str
    metadata: dict[str, Any]
    default_thread_ttl_seconds: int | None


class ThreadRow(TypedDict):
    object: Literal["thread"]
    id: str
    space_id: str
    title: str | None
    owner_id: str | None
    public: bool
    status: ThreadStatus
    metadata: dict[str, Any]
    state: Any
    state_version: int
    role_mapping: dict[str, Any]
    message_count: int
    created_at: str
    updated_at: str
    archived_at: str | None
    expires_at: str | None


class ThreadChanges(TypedDict, total=False):
    """The columns of ``THREAD_COLUMNS_UPDATABLE``; ``updated_at`` is set by the store."""

    title: str | None
    status: ThreadStatus
    public: bool
    owner_id: str | None
    metadata: dict[str, Any]
    role_mapping: dict[str, Any]
    archived_at: str | None
    expires_at: str | None
    updated_at: str


class MessageRow(TypedDict):
    object: Literal["message"]
    id: str
    thread_id: str
    seq: int
    role: str
    content: str
    images: list[str]
    private: bool
    metadata: dict[str, Any]
    created_at: str
    # The message's item fields, present only when it has them (see ``message_item``).
    tool_calls: NotRequired[list[dict[str, Any]]]
    tool_call_id: NotRequired[str]
    name: NotRequired[str]
    item: NotRequired[dict[str, Any]]


class StateRow(TypedDict):
    object: Literal["thread.state"]
    thread_id: str
    state: Any
    version: int
    updated_at: str | None


class StateVersionRow(TypedDict):
    object: Literal["thread.state.version"]
    version: int
    created_at: str
    state: Any


class NewApiKey(TypedDict):
    """What ``create_api_key`` stores: the key's hash, never its secret."""

    id: str
    key_hash: str
    prefix: str
    name: str | None
    role: KeyRole
    space_id: str | None


class ApiKeyRow(TypedDict):
    object: Literal["api_key"]
    id: str
    name: str | None
    role: KeyRole
    space_id: str | None
    prefix: str
    created_at: str
    revoked_at: str | None


class AssistantRow(TypedDict):
    """Every column, the unlock salt, hash and word count included (the service strips
    them from what it shows)."""

    object: Literal["assistant"]
    id: str
    space_id: str
    name: str
    provider: str | None
    model: str | None
    system_prompt: str | None
    temperature: float | None
    max_tokens: int | None
    context_tokens: int
    private: bool
    grants: list[str]
    unlock_salt: str | None
    unlock_hash: str | None
    unlock_words: int | None
    metadata: dict[str, Any]
    created_at: str
    updated_at: str


class AssistantFields(TypedDict, total=False):
    """What ``create_assistant`` is given; a field left out takes its default."""

    id: Required[str]
    name: Required[str]
    context_tokens: Required[int]
    provider: str | None
    model: str | None
    system_prompt: str | None
    temperature: float | None
    max_tokens: int | None
    private: bool
    grants: list[str]
    unlock_salt: str | None
    unlock_hash: str | None
    unlock_words: int | None
    metadata: dict[str, Any]


class AssistantChanges(TypedDict, total=False):
    """The columns of ``ASSISTANT_COLUMNS_UPDATABLE``; ``updated_at`` is set by the store."""

    name: str
    provider: str | None
    model: str | None
    system_prompt: str | None
    temperature: float | None
    max_tokens: int | None
    context_tokens: int
    private: bool
    grants: list[str]
    unlock_salt: str | None
    unlock_hash: str | None
    unlock_words: int | None
    metadata: dict[str, Any]
    updated_at: str


RowT = TypeVar("RowT", SpaceRow, ThreadRow, AssistantRow)


def changed(row: RowT, changes: Mapping[str, object]) -> RowT:
    """``row`` with ``changes`` applied (a new dict; the keys keep their order)."""
    return cast(RowT, {**row, **changes})


# The rows a write knows without reading them back -----------------------------------------


def new_space_row(
    space_id: str,
    name: str,
    metadata: dict[str, Any],
    default_thread_ttl_seconds: int | None,
    now: str,
) -> SpaceRow:
    return {
        "object": "space",
        "id": space_id,
        "name": name,
        "metadata": metadata,
        "created_at": now,
        "default_thread_ttl_seconds": default_thread_ttl_seconds,
    }


def new_thread_row(
    space_id: str,
    thread_id: str,
    thread: ThreadCreate,
    *,
    state_version: int,
    role_mapping: dict[str, Any],
    message_count: int,
    now: str,
    expires_at: str | None,
) -> ThreadRow:
    """The row of a thread just created, as every backend returns it (no read-back)."""
    return {
        "object": "thread",
        "id": thread_id,
        "space_id": space_id,
        "title": thread.title,
        "owner_id": thread.owner_id,
        "public": thread.public,
        "status": "active",
        "metadata": thread.metadata,
        "state": thread.state,
        "state_version": state_version,
        "role_mapping": role_mapping,
        "message_count": message_count,
        "created_at": now,
        "updated_at": now,
        "archived_at": None,
        "expires_at": expires_at,
    }


def message_item(message: MessageCreate, message_id: str) -> dict[str, Any] | None:
    """What a new message stores in its ``item`` column: its item fields that are set, as
    JSON values (a provider item with ``message_id`` as its id), or None when it has none
    (most messages: checked first, at no cost)."""
    if (
        message.tool_calls is None
        and message.tool_call_id is None
        and message.name is None
        and message.item is None
    ):
        return None
    item: dict[str, Any] = {}
    if message.tool_calls is not None:
        item["tool_calls"] = [call.model_dump() for call in message.tool_calls]
    if message.tool_call_id is not None:
        item["tool_call_id"] = message.tool_call_id
    if message.name is not None:
        item["name"] = message.name
    if message.item is not None:
        item["item"] = {**message.item, "id": message_id}
    return item


def new_message_rows(
    thread_id: str,
    ids: Sequence[str],
    seqs: Sequence[int],
    messages: Sequence[MessageCreate],
    now: str,
    items: Sequence[dict[str, Any] | None] | None = None,
) -> list[MessageRow]:
    """The rows of the messages just appended with these ids and numbers (no read-back);
    ``items`` are their ``message_item``s when the caller has made them already."""
    rows: list[MessageRow] = []
    for index, (message_id, seq, m) in enumerate(zip(ids, seqs, messages, strict=True)):
        row: MessageRow = {
            "object": "message",
            "id": message_id,
            "thread_id": thread_id,
            "seq": seq,
            "role": m.role,
            "content": m.content,
            "images": m.images,
            "private": m.private,
            "metadata": m.metadata,
            "created_at": now,
        }
        item = message_item(m, message_id) if items is None else items[index]
        if item is not None:
            row.update(item)  # type: ignore[typeddict-item]
        rows.append(row)
    return rows


def new_assistant_row(space_id: str, fields: AssistantFields, now: str) -> AssistantRow:
    """The row of an assistant just created from ``fields``, as every backend returns it."""
    return {
        "object": "assistant",
        "id": fields["id"],
        "space_id": space_id,
        "name": fields["name"],
        "provider": fields.get("provider"),
        "model": fields.get("model"),
        "system_prompt": fields.get("system_prompt"),
        "temperature": fields.get("temperature"),
        "max_tokens": fields.get("max_tokens"),
        "context_tokens": fields["context_tokens"],
        "private": bool(fields.get("private", False)),
        "grants": list(fields.get("grants", [])),
        "unlock_salt": fields.get("unlock_salt"),
        "unlock_hash": fields.get("unlock_hash"),
        "unlock_words": fields.get("unlock_words"),
        "metadata": fields.get("metadata", {}),
        "created_at": now,
        "updated_at": now,
    }


def state_row(thread_id: str, state: Any, version: int, updated_at: str | None) -> StateRow:
    """A thread's state as every backend returns it."""
    return {
        "object": "thread.state",
        "thread_id": thread_id,
        "state": state,
        "version": version,
        "updated_at": updated_at,
    }


def new_api_key_row(key: NewApiKey, now: str) -> ApiKeyRow:
    """The row of an API key just created (for a backend that does not read it back)."""
    return {
        "object": "api_key",
        "id": key["id"],
        "name": key["name"],
        "role": key["role"],
        "space_id": key["space_id"],
        "prefix": key["prefix"],
        "created_at": now,
        "revoked_at": None,
    }
