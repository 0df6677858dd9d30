"""API keys and idempotency keys on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from ...errors import AlreadyExists, NotFound
from ..base import IdempotencyRecord, Row, format_ts, utc_now
from .connection import PostgresBase, Record, _count, _ts

__all__ = ["AccessStoreMixin"]

_KEY_COLUMNS = "id, name, role, space_id, prefix, created_at, revoked_at"

_IDEMPOTENCY_BEGIN_SQL = """
INSERT INTO idempotency_keys AS k (scope, key, request_hash, status, created_at, locked_until)
VALUES ($1, $2, $3, 'pending', $4::timestamptz, $5::timestamptz)
ON CONFLICT (scope, key) DO UPDATE SET locked_until = EXCLUDED.locked_until
WHERE k.status = 'pending' AND k.locked_until < $4::timestamptz
    AND k.request_hash = EXCLUDED.request_hash
RETURNING 1
"""


def _key(r: Record) -> Row:
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


class AccessStoreMixin(PostgresBase):
    # API keys ---------------------------------------------------------------------------

    async def create_api_key(self, row: Row) -> Row:
        try:
            r = await self._fetchrow(
                "INSERT INTO api_keys (id, key_hash, prefix, name, role, space_id, created_at)"
                f" VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_KEY_COLUMNS}",
                row["id"],
                row["key_hash"],
                row["prefix"],
                row["name"],
                row["role"],
                row["space_id"],
                utc_now(),
            )
        except asyncpg.UniqueViolationError as exc:
            raise AlreadyExists(f"API key {row['id']!r} already exists") from exc
        except asyncpg.ForeignKeyViolationError as exc:
            raise NotFound(f"space {row['space_id']!r} does not exist") from exc
        assert r is not None
        return _key(r)

    async def find_api_key(self, key_hash: str) -> Row | None:
        r = await self._fetchrow(
            f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE key_hash = $1", key_hash
        )
        return _key(r) if r is not None else None

    async def list_api_keys(self) -> list[Row]:
        return [
            _key(r) for r in await self._fetch(f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY id")
        ]

    async def revoke_api_key(self, key_id: str) -> bool:
        status = await self._execute(
            "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
            utc_now(),
            key_id,
        )
        return _count(status) > 0

    async def count_api_keys(self, include_revoked: bool = False) -> int:
        sql = "SELECT count(*) FROM api_keys"
        if not include_revoked:
            sql += " WHERE revoked_at IS NULL"
        return int(await self._fetchval(sql))

    # idempotency ------------------------------------------------------------------------

    async def idempotency_begin(
        self, scope: str, key: str, request_hash: str, lease_seconds: float
    ) -> IdempotencyRecord | None:
        while True:
            now = utc_now()
            locked_until = now + timedelta(seconds=lease_seconds)
            # Claims a new key, or takes over the lease of a stale pending one for the same
            # request; either way a row comes back and the caller owns the key.
            owned = await self._fetchval(
                _IDEMPOTENCY_BEGIN_SQL, scope, key, request_hash, now, locked_until
            )
            if owned is not None:
                return None
            r = await self._fetchrow(
                "SELECT request_hash, status, response_status, response_body"
                " FROM idempotency_keys WHERE scope = $1 AND key = $2",
                scope,
                key,
            )
            if r is not None:
                return IdempotencyRecord(r[0], r[1], r[2], r[3])
            # Released or swept in between: try to claim it again.

    async def idempotency_complete(self, scope: str, key: str, status: int, body: bytes) -> None:
        await self._execute(
            "UPDATE idempotency_keys SET status = 'done', response_status = $1,"
            " response_body = $2 WHERE scope = $3 AND key = $4",
            status,
            body,
            scope,
            key,
        )

    async def idempotency_release(self, scope: str, key: str) -> None:
        await self._execute(
            "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status = 'pending'",
            scope,
            key,
        )

    async def idempotency_sweep(self, older_than_seconds: float) -> int:
        cutoff = utc_now() - timedelta(seconds=older_than_seconds)
        status = await self._execute("DELETE FROM idempotency_keys WHERE created_at < $1", cutoff)
        return _count(status)
