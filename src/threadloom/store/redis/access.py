"""API keys and idempotency keys on Redis.

API keys are hashes with an index from key hash to id; listing them reads every key (an
admin operation on a handful of rows). Idempotency records are hashes indexed by creation
time, so a sweep reads only the records it deletes; the creates' own scripts write them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ...errors import AlreadyExists, NotFound
from ...timestamps import utc_now
from ..base import IdempotencyRecord
from ..rows import ApiKeyRow, NewApiKey, new_api_key_row
from .connection import RedisBase, _now, _pairs, _values, lua
from .rows import api_key_row

__all__ = ["AccessStoreMixin"]

_SWEEP_BATCH = 500

_CREATE_KEY = lua(
    "create_api_key",
    """
-- ARGV: id, key_hash, prefix, name ('' with has_name '0'), has_name, role, space_id,
--       has_space, created_at
local id, h, sid = ARGV[2], ARGV[3], ARGV[8]
local kk = P .. ':key:' .. esc(id)
if ARGV[9] == '1' and redis.call('EXISTS', space_key(sid)) == 0 then return -1 end
if redis.call('EXISTS', kk) == 1 or redis.call('HEXISTS', P .. ':key_hashes', h) == 1 then
  return -2
end
redis.call('HSET', kk, 'id', id, 'key_hash', h, 'prefix', ARGV[4], 'role', ARGV[7],
           'created_at', ARGV[10])
if ARGV[6] == '1' then redis.call('HSET', kk, 'name', ARGV[5]) end
if ARGV[9] == '1' then
  redis.call('HSET', kk, 'space_id', sid)
  redis.call('SADD', space_key(sid) .. ':keys', id)
end
redis.call('ZADD', P .. ':keys', 0, id)
redis.call('HSET', P .. ':key_hashes', h, id)
return 1
""",
)

_FIND_KEY = lua(
    "find_api_key",
    """
local id = redis.call('HGET', P .. ':key_hashes', ARGV[2])
if not id then return false end
return redis.call('HGETALL', P .. ':key:' .. esc(id))
""",
)

_LIST_KEYS = lua(
    "list_api_keys",
    """
local out = {}
for _, id in ipairs(redis.call('ZRANGE', P .. ':keys', 0, -1)) do
  out[#out + 1] = redis.call('HGETALL', P .. ':key:' .. esc(id))
end
return out
""",
)

_REVOKE_KEY = lua(
    "revoke_api_key",
    """
local kk = P .. ':key:' .. esc(ARGV[2])
if redis.call('EXISTS', kk) == 0 then return 0 end
if redis.call('HSETNX', kk, 'revoked_at', ARGV[3]) == 0 then return 0 end
redis.call('SADD', P .. ':keys_revoked', ARGV[2])
return 1
""",
)

_COUNT_KEYS = lua(
    "count_api_keys",
    """
local n = redis.call('ZCARD', P .. ':keys')
if ARGV[2] == '1' then return n end
return n - redis.call('SCARD', P .. ':keys_revoked')
""",
)

_SWEEP = lua(
    "idempotency_sweep",
    """
-- ARGV: cutoff (µs, exclusive), batch size. Returns how many records it deleted.
local old = redis.call('ZRANGE', P .. ':idems', '-inf', '(' .. ARGV[2], 'BYSCORE',
                       'LIMIT', 0, tonumber(ARGV[3]))
for _, k in ipairs(old) do
  redis.call('UNLINK', k)
  redis.call('ZREM', P .. ':idems', k)
end
return #old
""",
)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(when: datetime) -> int:
    """Microseconds since the epoch: exact as a sorted set score (below 2**53)."""
    return (when - _EPOCH) // timedelta(microseconds=1)


class AccessStoreMixin(RedisBase):
    # API keys ---------------------------------------------------------------------------

    async def create_api_key(self, key: NewApiKey) -> ApiKeyRow:
        now = _now()
        name, space_id = key["name"], key["space_id"]
        code = await self._eval(
            _CREATE_KEY,
            key["id"],
            key["key_hash"],
            key["prefix"],
            name or "",
            "0" if name is None else "1",
            key["role"],
            space_id or "",
            "0" if space_id is None else "1",
            now,
        )
        if code == -1:
            raise NotFound(f"space {space_id!r} does not exist")
        if code == -2:
            raise AlreadyExists("an API key with this id or secret already exists")
        return new_api_key_row(key, now)

    async def find_api_key(self, key_hash: str) -> ApiKeyRow | None:
        flat = await self._eval(_FIND_KEY, key_hash)
        return api_key_row(_pairs(flat)) if flat else None

    async def list_api_keys(self) -> list[ApiKeyRow]:
        return [api_key_row(_pairs(flat)) for flat in await self._eval(_LIST_KEYS)]

    async def revoke_api_key(self, key_id: str) -> bool:
        return bool(await self._eval(_REVOKE_KEY, key_id, _now()))

    async def count_api_keys(self, include_revoked: bool = False) -> int:
        return int(await self._eval(_COUNT_KEYS, "1" if include_revoked else "0"))

    # idempotency ------------------------------------------------------------------------

    async def idempotency_lookup(self, scope: str, key: str) -> IdempotencyRecord | None:
        with self._guard():
            request, status, body = _values(
                await self._redis.hmget(
                    self.keys.idempotency(scope, key), ["request_hash", "status", "response_body"]
                )
            )
        if request is None or status != b"done":
            return None
        return IdempotencyRecord(request.decode(), "done", None, body)

    async def idempotency_sweep(self, older_than_seconds: float) -> int:
        cutoff = _micros(utc_now() - timedelta(seconds=older_than_seconds))
        total = 0
        while True:
            deleted = int(await self._eval(_SWEEP, cutoff, _SWEEP_BATCH))
            total += deleted
            if deleted < _SWEEP_BATCH:
                return total
