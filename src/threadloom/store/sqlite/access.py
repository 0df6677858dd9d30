"""API keys and idempotency keys on SQLite."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from typing import Any, TypeVar

from ...errors import AlreadyExists, NotFound
from ...timestamps import format_ts, utc_now
from ..base import IdempotencyRecord
from ..idempotent import IdempotentWrite, recorded_result
from ..rows import ApiKeyRow, NewApiKey
from .connection import SQLiteBase, _now
from .rows import API_KEY_COLUMNS, api_key_row

T = TypeVar("T")

__all__ = ["AccessStoreMixin", "is_replay", "record_result", "recorded_replay"]

_LOOKUP_SQL = (
    "SELECT request_hash, response_body FROM idempotency_keys"
    " WHERE scope = ? AND key = ? AND status = 'done'"
)
# A 'pending' row is a claim left by a version that claimed keys before their create: it
# holds nothing, and the record takes its place.
_RECORD_SQL = (
    "INSERT INTO idempotency_keys (scope, key, request_hash, status, response_body,"
    " created_at, locked_until) VALUES (?, ?, ?, 'done', ?, ?, ?)"
    " ON CONFLICT (scope, key) DO UPDATE SET request_hash = excluded.request_hash,"
    " status = 'done', response_body = excluded.response_body,"
    " created_at = excluded.created_at WHERE idempotency_keys.status = 'pending'"
)

_NOT_RECORDED: Any = object()


def recorded_replay(db: sqlite3.Connection, write: IdempotentWrite | None) -> Any:
    """In a create's write transaction, before its effect: the result recorded for its
    key, or ``_NOT_RECORDED``. The write lock keeps the key from being recorded by anyone
    else until this transaction ends."""
    if write is None:
        return _NOT_RECORDED
    r = db.execute(_LOOKUP_SQL, (write.scope, write.key)).fetchone()
    if r is None:
        return _NOT_RECORDED
    return recorded_result(write, r[0], r[1])


def is_replay(result: Any) -> bool:
    return result is not _NOT_RECORDED


def record_result(db: sqlite3.Connection, write: IdempotentWrite | None, result: T) -> T:
    """In the same transaction, after the effect: the key's record, holding ``result``."""
    if write is not None:
        now = _now()
        db.execute(
            _RECORD_SQL,
            (write.scope, write.key, write.request_hash, write.record_body(result), now, now),
        )
    return result


class AccessStoreMixin(SQLiteBase):
    # API keys ---------------------------------------------------------------------------

    async def create_api_key(self, key: NewApiKey) -> ApiKeyRow:
        now = _now()
        with self._writing() as db:
            if key["space_id"] is not None:
                space = db.execute("SELECT 1 FROM spaces WHERE id = ?", (key["space_id"],))
                if space.fetchone() is None:
                    raise NotFound(f"space {key['space_id']!r} does not exist")
            try:
                db.execute(
                    "INSERT INTO api_keys (id, key_hash, prefix, name, role, space_id,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        key["id"],
                        key["key_hash"],
                        key["prefix"],
                        key["name"],
                        key["role"],
                        key["space_id"],
                        now,
                    ),
                )
            except sqlite3.IntegrityError as exc:
                raise AlreadyExists("an API key with this id or secret already exists") from exc
            r = db.execute(f"SELECT {API_KEY_COLUMNS} FROM api_keys WHERE id = ?", (key["id"],))
            return api_key_row(r.fetchone())

    async def find_api_key(self, key_hash: str) -> ApiKeyRow | None:
        with self._reading() as db:
            r = db.execute(
                f"SELECT {API_KEY_COLUMNS} FROM api_keys WHERE key_hash = ?", (key_hash,)
            ).fetchone()
        return api_key_row(r) if r else None

    async def list_api_keys(self) -> list[ApiKeyRow]:
        with self._reading() as db:
            sql = f"SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY id"
            return [api_key_row(r) for r in db.execute(sql)]

    async def revoke_api_key(self, key_id: str) -> bool:
        with self._writing() as db:
            cur = db.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (_now(), key_id),
            )
            return cur.rowcount > 0

    async def count_api_keys(self, include_revoked: bool = False) -> int:
        sql = "SELECT count(*) FROM api_keys"
        if not include_revoked:
            sql += " WHERE revoked_at IS NULL"
        with self._reading() as db:
            r = db.execute(sql).fetchone()
        return int(r[0])

    # idempotency ------------------------------------------------------------------------

    async def idempotency_lookup(self, scope: str, key: str) -> IdempotencyRecord | None:
        with self._reading() as db:
            r = db.execute(_LOOKUP_SQL, (scope, key)).fetchone()
        return IdempotencyRecord(r[0], "done", None, r[1]) if r else None

    async def idempotency_sweep(self, older_than_seconds: float) -> int:
        cutoff = format_ts(utc_now() - timedelta(seconds=older_than_seconds))
        with self._writing() as db:
            cur = db.execute("DELETE FROM idempotency_keys WHERE created_at < ?", (cutoff,))
            return cur.rowcount
