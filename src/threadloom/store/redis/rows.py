"""The rows of the Redis backend (see ``store.rows``): spaces, threads and API keys are
hashes, built field by field here; messages, assistants and state versions are stored as
their rows' JSON (written in that order by the scripts and ``orjson``), so their builders
decode it."""

from __future__ import annotations

from typing import cast

from ...models import ThreadStatus
from ...models.keys import KeyRole
from ..rows import ApiKeyRow, AssistantRow, MessageRow, SpaceRow, StateVersionRow, ThreadRow
from .connection import _loads, _text

__all__ = [
    "api_key_row",
    "assistant_row",
    "message_row",
    "space_row",
    "state_version_row",
    "thread_row",
]

Hash = dict[bytes, bytes]


def _int(value: bytes | None) -> int | None:
    return int(value) if value is not None else None


def space_row(space_id: str, h: Hash) -> SpaceRow:
    return {
        "object": "space",
        "id": space_id,
        "name": h[b"name"].decode(),
        "metadata": _loads(h[b"metadata"]),
        "created_at": h[b"created_at"].decode(),
        "default_thread_ttl_seconds": _int(h.get(b"default_thread_ttl_seconds")),
    }


def thread_row(h: Hash) -> ThreadRow:
    state = h.get(b"state")
    return {
        "object": "thread",
        "id": h[b"id"].decode(),
        "space_id": h[b"space_id"].decode(),
        "title": _text(h.get(b"title")),
        "owner_id": _text(h.get(b"owner_id")),
        "public": h[b"public"] == b"1",
        "status": cast(ThreadStatus, h[b"status"].decode()),
        "metadata": _loads(h[b"metadata"]),
        "state": _loads(state) if state is not None else None,
        "state_version": int(h[b"state_version"]),
        "role_mapping": _loads(h[b"role_mapping"]),
        "message_count": int(h[b"message_count"]),
        "created_at": h[b"created_at"].decode(),
        "updated_at": h[b"updated_at"].decode(),
        "archived_at": _text(h.get(b"archived_at")),
        "expires_at": _text(h.get(b"expires_at")),
    }


def message_row(body: bytes | str) -> MessageRow:
    """A message as stored: its row's JSON (see ``messages._message_args``)."""
    return cast(MessageRow, _loads(body))


def state_version_row(member: bytes | str) -> StateVersionRow:
    """An earlier state version as stored: its row's JSON (see ``state._version_member``)."""
    return cast(StateVersionRow, _loads(member))


def api_key_row(h: Hash) -> ApiKeyRow:
    return {
        "object": "api_key",
        "id": h[b"id"].decode(),
        "name": _text(h.get(b"name")),
        "role": cast(KeyRole, h[b"role"].decode()),
        "space_id": _text(h.get(b"space_id")),
        "prefix": h[b"prefix"].decode(),
        "created_at": h[b"created_at"].decode(),
        "revoked_at": _text(h.get(b"revoked_at")),
    }


def assistant_row(body: bytes | str) -> AssistantRow:
    """An assistant as stored: its row's JSON."""
    return cast(AssistantRow, _loads(body))
