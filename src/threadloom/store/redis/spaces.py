"""Spaces on Redis.

A space is a hash; the ids are a lex-ordered sorted set, so a page of spaces is one range
read. Deleting a space with ``force`` removes everything in it in one script (atomic, like
the cascade on SQL): it blocks Redis for a time in proportion to the space's threads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import orjson

from ...errors import AlreadyExists, Conflict
from ..base import PageSlice, SpaceMutation, keyset_plan, slice_page
from ..idempotent import take_write
from ..rows import SpaceRow, changed, new_space_row
from .connection import RedisBase, _fields, _multi, _now, _pairs, lua
from .rows import space_row

if TYPE_CHECKING:
    from redis.asyncio.client import Pipeline

__all__ = ["SpaceStoreMixin"]

_CREATE = lua(
    "create_space",
    """
-- ARGV: sid, name, metadata, created_at, default thread ttl ('' for none), the recorded
-- result, the record's 3. Returns 1, 0 (the id is taken), or {hash, recorded result}.
local recorded = idem_recorded()
if recorded then return recorded end
local sk = space_key(ARGV[2])
if redis.call('EXISTS', sk) == 1 then return 0 end
redis.call('HSET', sk, 'name', ARGV[3], 'metadata', ARGV[4], 'created_at', ARGV[5])
if ARGV[6] ~= '' then redis.call('HSET', sk, 'default_thread_ttl_seconds', ARGV[6]) end
redis.call('ZADD', P .. ':spaces', 0, ARGV[2])
idem_record(ARGV[#ARGV - 3])
return 1
""",
)

_LIST = lua(
    "list_spaces",
    """
-- ARGV: ASC|DESC, cursor id ('' for none), want. Returns {id, fields} pairs.
local cursor, want = ARGV[3], tonumber(ARGV[4])
local ids
if ARGV[2] == 'DESC' then
  ids = redis.call('ZRANGE', P .. ':spaces', cursor == '' and '+' or '(' .. cursor, '-',
                   'BYLEX', 'REV', 'LIMIT', 0, want)
else
  ids = redis.call('ZRANGE', P .. ':spaces', cursor == '' and '-' or '(' .. cursor, '+',
                   'BYLEX', 'LIMIT', 0, want)
end
local out = {}
for _, id in ipairs(ids) do out[#out + 1] = {id, redis.call('HGETALL', space_key(id))} end
return out
""",
)

_DELETE = lua(
    "delete_space",
    """
-- ARGV: sid, force ('1' or '0'). Returns 1 if deleted, 0 if missing, -1 if not empty.
local sid, force = ARGV[2], ARGV[3] == '1'
local sk = space_key(sid)
if redis.call('EXISTS', sk) == 0 then return 0 end
local all = index_key(sid, 'created', 'all')
if not force then
  -- Busy if any thread is left that has not expired (normally the first one walked).
  local from = 0
  while true do
    local batch = redis.call('ZRANGE', all, from, from + 499)
    if #batch == 0 then break end
    for _, m in ipairs(batch) do
      if redis.call('EXISTS', thread_key(sid, string.sub(m, 28))) == 1 then return -1 end
    end
    from = from + 500
  end
end
while true do
  local batch = redis.call('ZRANGE', all, 0, 499)
  if #batch == 0 then break end
  for _, m in ipairs(batch) do
    purge_thread(sid, string.sub(m, 28))
    redis.call('ZREM', all, m)  -- gone even if nothing else knew of it
  end
end
for _, kid in ipairs(redis.call('SMEMBERS', sk .. ':keys')) do
  local kk = P .. ':key:' .. esc(kid)
  local h = redis.call('HGET', kk, 'key_hash')
  if h then redis.call('HDEL', P .. ':key_hashes', h) end
  redis.call('UNLINK', kk)
  redis.call('ZREM', P .. ':keys', kid)
  redis.call('SREM', P .. ':keys_revoked', kid)
end
for _, aid in ipairs(redis.call('ZRANGE', sk .. ':assistants', 0, -1)) do
  redis.call('UNLINK', sk .. ':assistant:' .. esc(aid))
end
for _, grant in ipairs(redis.call('SMEMBERS', sk .. ':assistant_grants')) do
  redis.call('UNLINK', sk .. ':assistants:grant:' .. esc(grant))
end
redis.call('UNLINK', sk, sk .. ':keys', sk .. ':assistants', sk .. ':assistants:public',
           sk .. ':assistants:unlockable', sk .. ':assistant_grants', sk .. ':assistant_names')
redis.call('ZREM', P .. ':spaces', sid)
return 1
""",
)


class SpaceStoreMixin(RedisBase):
    # spaces -----------------------------------------------------------------------------

    async def create_space(
        self,
        space_id: str,
        name: str,
        metadata: dict[str, Any],
        default_thread_ttl_seconds: int | None = None,
    ) -> SpaceRow:
        now, write = _now(), take_write()
        ttl = default_thread_ttl_seconds
        row = new_space_row(space_id, name, metadata, ttl, now)
        code = await self._eval(
            _CREATE,
            space_id,
            name,
            orjson.dumps(metadata),
            now,
            "" if ttl is None else ttl,
            *self._recorded_args(write, row),
        )
        if isinstance(code, list):
            return cast(SpaceRow, self._replayed(write, code))
        if not code:
            raise AlreadyExists(f"space {space_id!r} already exists")
        return row

    async def get_space(self, space_id: str) -> SpaceRow | None:
        with self._guard():
            h = await self._redis.hgetall(self.keys.space(space_id))
        return space_row(space_id, _fields(h)) if h else None

    async def list_spaces(
        self, limit: int, after: str | None, before: str | None, only: str | None
    ) -> PageSlice[SpaceRow]:
        plan = keyset_plan("asc", has_after=after is not None, has_before=before is not None)
        cursor = before if before is not None else after
        if only is not None:
            # One space at most: the cursor only decides whether it is on this page.
            passes = (
                plan.op is None
                or cursor is None
                or (only > cursor if plan.op == ">" else only < cursor)
            )
            space = await self.get_space(only) if passes else None
            return slice_page([space] if space else [], limit, plan)
        found = await self._eval(
            _LIST, plan.direction, cursor if plan.op and cursor is not None else "", limit + 1
        )
        rows = [space_row(space_id.decode(), _pairs(flat)) for space_id, flat in found]
        return slice_page(rows, limit, plan)

    async def update_space(self, space_id: str, mutate: SpaceMutation) -> SpaceRow | None:
        key = self.keys.space(space_id)

        async def attempt(pipe: Pipeline) -> SpaceRow | None:
            await pipe.watch(key)
            h = await pipe.hgetall(key)
            if not h:
                return None
            space = space_row(space_id, _fields(h))
            space = changed(space, mutate(space.copy()))
            _multi(pipe)
            pipe.hset(
                key, mapping={"name": space["name"], "metadata": orjson.dumps(space["metadata"])}
            )
            ttl = space["default_thread_ttl_seconds"]
            if ttl is None:
                pipe.hdel(key, "default_thread_ttl_seconds")
            else:
                pipe.hset(key, "default_thread_ttl_seconds", ttl)
            await pipe.execute()
            return space

        return await self._optimistic(attempt)

    async def delete_space(self, space_id: str, force: bool) -> bool:
        deleted = await self._eval(_DELETE, space_id, "1" if force else "0")
        if deleted == -1:
            raise Conflict(
                f"space {space_id!r} still has threads; delete with force=true to "
                "remove it with everything in it"
            )
        return bool(deleted)
