"""API keys and idempotency keys on SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from ...errors import AlreadyExists, NotFound
from ..base import IdempotencyRecord, Row, format_ts, utc_now
from .connection import SQLiteBase, _now

__all__ = ["AccessStoreMixin"]

_KEY_COLUMNS = "id, name, role, space_id, prefix, created_at, revoked_at"


def _key(r: Sequence[Any]) -> Row:
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


class AccessStoreMixin(SQLiteBase):
    # API keys ---------------------------------------------------------------------------

    async def create_api_key(self, row: Row) -> Row:
        now = _now()
        with self._writing() as db:
            if row["space_id"] is not None:
                space = db.execute("SELECT 1 FROM spaces WHERE id = ?", (row["space_id"],))
                if space.fetchone() is None:
                    raise NotFound(f"space {row['space_id']!r} does not exist")
            try:
                db.execute(
                    "INSERT INTO api_keys (id, key_hash, prefix, name, role, space_id,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        row["id"],
                        row["key_hash"],
                        row["prefix"],
                        row["name"],
                        row["role"],
                        row["space_id"],
                        now,
                    ),
                )
            except sqlite3.IntegrityError as exc:
                raise AlreadyExists("an API key with this id or secret already exists") from exc
            r = db.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id = ?", (row["id"],))
            return _key(r.fetchone())

    async def find_api_key(self, key_hash: str) -> Row | None:
        with self._reading() as db:
            r = db.execute(
                f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE key_hash = ?", (key_hash,)
            ).fetchone()
        return _key(r) if r else None

    async def list_api_keys(self) -> list[Row]:
        with self._reading() as db:
            return [_key(r) for r in db.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY id")]

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

    async def idempotency_begin(
        self, scope: str, key: str, request_hash: str, lease_seconds: float
    ) -> IdempotencyRecord | None:
        now = utc_now()
        locked_until = format_ts(now + timedelta(seconds=lease_seconds))
        with self._writing() as db:
            r = db.execute(
                "SELECT request_hash, status, response_status, response_body, locked_until"
                " FROM idempotency_keys WHERE scope = ? AND key = ?",
                (scope, key),
            ).fetchone()
            if r is None:
                db.execute(
                    "INSERT INTO idempotency_keys (scope, key, request_hash, status, created_at,"
                    " locked_until) VALUES (?, ?, ?, 'pending', ?, ?)",
                    (scope, key, request_hash, format_ts(now), locked_until),
                )
                return None
            stale = r[1] == "pending" and r[4] < format_ts(now)
            if stale and r[0] == request_hash:
                db.execute(
                    "UPDATE idempotency_keys SET locked_until = ? WHERE scope = ? AND key = ?",
                    (locked_until, scope, key),
                )
                return None
        return IdempotencyRecord(r[0], r[1], r[2], r[3])

    async def idempotency_complete(self, scope: str, key: str, status: int, body: bytes) -> None:
        with self._writing() as db:
            db.execute(
                "UPDATE idempotency_keys SET status = 'done', response_status = ?,"
                " response_body = ? WHERE scope = ? AND key = ?",
                (status, body, scope, key),
            )

    async def idempotency_release(self, scope: str, key: str) -> None:
        with self._writing() as db:
            db.execute(
                "DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND status = 'pending'",
                (scope, key),
            )

    async def idempotency_sweep(self, older_than_seconds: float) -> int:
        cutoff = format_ts(utc_now() - timedelta(seconds=older_than_seconds))
        with self._writing() as db:
            cur = db.execute("DELETE FROM idempotency_keys WHERE created_at < ?", (cutoff,))
            return cur.rowcount
