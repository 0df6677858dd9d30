"""The rows of the PostgreSQL backend: each kind built from its ``SELECT``'s record (see
``store.rows``). JSON columns arrive decoded (the pool's codecs); timestamps are formatted
by the query (``_wire_ts``) where the list is long, by ``format_ts`` elsewhere."""

from __future__ import annotations

from ...timestamps import format_ts
from ..rows import ApiKeyRow, AssistantRow, MessageRow, SpaceRow, StateVersionRow, ThreadRow
from .connection import Record, _ts, _wire_ts

__all__ = [
    "API_KEY_COLUMNS",
    "SPACE_COLUMNS",
    "THREAD_COLUMNS",
    "api_key_row",
    "assistant_row",
    "message_row",
    "space_row",
    "state_version_row",
    "thread_row",
]

SPACE_COLUMNS = "id, name, metadata, created_at, default_thread_ttl_seconds"


def space_row(r: Record) -> SpaceRow:
    return {
        "object": "space",
        "id": r[0],
        "name": r[1],
        "metadata": r[2],
        "created_at": format_ts(r[3]),
        "default_thread_ttl_seconds": r[4],
    }


THREAD_COLUMNS = (
    "pk, space_id, id, title, owner_id, public, status, metadata, state, state_version,"
    f" role_mapping, message_count, {_wire_ts('created_at')}, {_wire_ts('updated_at')},"
    f" {_wire_ts('archived_at')}, {_wire_ts('expires_at')}"
)


def thread_row(r: Record) -> ThreadRow:
    return {
        "object": "thread",
        "id": r[2],
        "space_id": r[1],
        "title": r[3],
        "owner_id": r[4],
        "public": r[5],
        "status": r[6],
        "metadata": r[7],
        "state": r[8],
        "state_version": r[9],
        "role_mapping": r[10],
        "message_count": r[11],
        "created_at": r[12],
        "updated_at": r[13],
        "archived_at": r[14],
        "expires_at": r[15],
    }


def message_row(r: Record, thread_id: str, offset: int = 0) -> MessageRow:
    """From ``id, seq, role, content, images, private, metadata, created_at`` (wire text),
    ``item``, starting at column ``offset``."""
    row: MessageRow = {
        "object": "message",
        "id": r[offset],
        "thread_id": thread_id,
        "seq": r[offset + 1],
        "role": r[offset + 2],
        "content": r[offset + 3],
        "images": r[offset + 4],
        "private": r[offset + 5],
        "metadata": r[offset + 6],
        "created_at": r[offset + 7],
    }
    item = r[offset + 8]
    if item is not None:
        row.update(item)
    return row


def state_version_row(r: Record, offset: int = 0) -> StateVersionRow:
    """From ``version, state, created_at``, starting at column ``offset``."""
    return {
        "object": "thread.state.version",
        "version": r[offset],
        "created_at": format_ts(r[offset + 2]),
        "state": r[offset + 1],
    }


API_KEY_COLUMNS = "id, name, role, space_id, prefix, created_at, revoked_at"


def api_key_row(r: Record) -> ApiKeyRow:
    return {
        "object": "api_key",
        "id": r[0],
        "name": r[1],
        "role": r[2],
        "space_id": r[3],
        "prefix": r[4],
        "created_at": format_ts(r[5]),
        "revoked_at": _ts(r[6]),
    }


def assistant_row(r: Record) -> AssistantRow:
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
        "private": r[9],
        "grants": r[10],
        "unlock_salt": r[11],
        "unlock_hash": r[12],
        "unlock_words": r[13],
        "metadata": r[14],
        "created_at": format_ts(r[15]),
        "updated_at": format_ts(r[16]),
    }
