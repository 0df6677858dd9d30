"""API keys and idempotency keys on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from ...errors import AlreadyExists, NotFound
from ...timestamps import utc_now
from ..base import IdempotencyRecord
from ..rows import ApiKeyRow, NewApiKey
from .connection import PostgresBase, _count
from .rows import API_KEY_COLUMNS, api_key_row

__all__ = ["AccessStoreMixin"]


class AccessStoreMixin(PostgresBase):
    # API keys ---------------------------------------------------------------------------

    async def create_api_key(self, key: NewApiKey) -> ApiKeyRow:
        try:
            r = await self._fetchrow(
                "INSERT INTO api_keys (id, key_hash, prefix, name, role, space_id, created_at)"
                f" VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {API_KEY_COLUMNS}",
                key["id"],
                key["key_hash"],
                key["prefix"],
                key["name"],
                key["role"],
                key["space_id"],
                utc_now(),
            )
        except asyncpg.UniqueViolationError as exc:
            raise AlreadyExists(f"API key {key['id']!r} already exists") from exc
        except asyncpg.ForeignKeyViolationError as exc:
            raise NotFound(f"space {key['space_id']!r} does not exist") from exc
        assert r is not None
        return api_key_row(r)

    async def find_api_key(self, key_hash: str) -> ApiKeyRow | None:
        r = await self._fetchrow(
            f"SELECT {API_KEY_COLUMNS} FROM api_keys WHERE key_hash = $1", key_hash
        )
        return api_key_row(r) if r is not None else None

    async def list_api_keys(self) -> list[ApiKeyRow]:
        sql = f"SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY id"
        return [api_key_row(r) for r in await self._fetch(sql)]

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
