"""The rows of the SQLite backend: each kind built from its ``SELECT`` (see ``store.rows``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..rows import ApiKeyRow, AssistantRow, MessageRow, SpaceRow, StateVersionRow, ThreadRow
from .connection import _loads

__all__ = [
    "API_KEY_COLUMNS",
    "MESSAGE_COLUMNS",
    "SPACE_COLUMNS",
    "THREAD_COLUMNS",
    "api_key_row",
    "assistant_row",
    "message_row",
    "space_row",
    "state_version_row",
    "thread_row",
]

SQLiteRow = Sequence[Any]

SPACE_COLUMNS = "id, name, metadata, created_at, default_thread_ttl_seconds"


def space_row(r: SQLiteRow) -> SpaceRow:
    return {
        "object": "space",
        "id": r[0],
        "name": r[1],
        "metadata": _loads(r[2]),
        "created_at": r[3],
        "default_thread_ttl_seconds": r[4],
    }


THREAD_COLUMNS = (
    "pk, space_id, id, title, owner_id, public, status, metadata, state, state_version,"
    " role_mapping, message_count, created_at, updated_at, archived_at, expires_at"
)


def thread_row(r: SQLiteRow) -> ThreadRow:
    return {
        "object": "thread",
        "id": r[2],
        "space_id": r[1],
        "title": r[3],
        "owner_id": r[4],
        "public": bool(r[5]),
        "status": r[6],
        "metadata": _loads(r[7]),
        "state": _loads(r[8]) if r[8] is not None else None,
        "state_version": r[9],
        "role_mapping": _loads(r[10]),
        "message_count": r[11],
        "created_at": r[12],
        "updated_at": r[13],
        "archived_at": r[14],
        "expires_at": r[15],
    }


MESSAGE_COLUMNS = "id, seq, role, content, images, private, metadata, created_at, item"


def message_row(r: SQLiteRow, thread_id: str) -> MessageRow:
    row: MessageRow = {
        "object": "message",
        "id": r[0],
        "thread_id": thread_id,
        "seq": r[1],
        "role": r[2],
        "content": r[3],
        "images": _loads(r[4]),
        "private": bool(r[5]),
        "metadata": _loads(r[6]),
        "created_at": r[7],
    }
    if r[8] is not None:
        row.update(_loads(r[8]))
    return row


def state_version_row(version: int, state: str | None, created_at: str) -> StateVersionRow:
    return {
        "object": "thread.state.version",
        "version": version,
        "created_at": created_at,
        "state": _loads(state) if state is not None else None,
    }


API_KEY_COLUMNS = "id, name, role, space_id, prefix, created_at, revoked_at"


def api_key_row(r: SQLiteRow) -> ApiKeyRow:
    return {
        "object": "api_key",
        "id": r[0],
        "name": r[1],
        "role": r[2],
        "space_id": r[3],
        "prefix": r[4],
        "created_at": r[5],
        "revoked_at": r[6],
    }


def assistant_row(r: SQLiteRow) -> AssistantRow:
    """From a ``SELECT`` of ``ASSISTANT_COLUMNS``."""
    return {
        "object": "assistant",
        "id": r[1],
        "space_id": r[0],
        "name": r[2],
        "provider": r[3],
        "model": r[4],
        "system_prompt": r[5],
        "temperature": r[6],
        "max_tokens": r[7],
        "context_tokens": r[8],
        "private": bool(r[9]),
        "grants": _loads(r[10]),
        "unlock_salt": r[11],
        "unlock_hash": r[12],
        "unlock_words": r[13],
        "metadata": _loads(r[14]),
        "created_at": r[15],
        "updated_at": r[16],
    }
