"""API keys and idempotency keys on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from ...errors import AlreadyExists, NotFound
from ...timestamps import format_ts, utc_now
from ..base import IdempotencyRecord, Row
from .connection import PostgresBase, Record, _count, _ts

__all__ = ["AccessStoreMixin"]

_KEY_COLUMNS = "id, name, role, space_id, prefix, created_at, revoked_at"


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

    async def idempotency_lookup(self, scope: str, key: str) -> IdempotencyRecord | None:
        r = await self._fetchrow(
            "SELECT request_hash, response_body FROM idempotency_keys"
            " WHERE scope = $1 AND key = $2 AND status = 'done'",
            scope,
            key,
        )
        return IdempotencyRecord(r[0], "done", None, bytes(r[1])) if r is not None else None

    async def idempotency_sweep(self, older_than_seconds: float) -> int:
        cutoff = utc_now() - timedelta(seconds=older_than_seconds)
        status = await self._execute("DELETE FROM idempotency_keys WHERE created_at < $1", cutoff)
        return _count(status)
