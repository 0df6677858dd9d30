"""Assistants on Redis.

An assistant is its row as JSON. Lex-ordered sorted sets of ids index them per space: all of
them, the public ones, the private ones each key is granted, and the private ones with an
unlock phrase; a hash maps names to ids, which keeps names unique. So a page of assistants,
with or without the grant filter, and the unlockable ones cost O(log n + page). Writes keep
the indexes in step: creation in one script, updates and deletes (which run the caller's
callback or read the row first) in WATCH/MULTI transactions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import orjson

from ...errors import AlreadyExists, NotFound
from ..base import (
    ASSISTANT_COLUMNS_UPDATABLE,
    UNLOCKABLE_ASSISTANTS_MAX,
    AssistantMutation,
    PageSlice,
    keyset_plan,
    slice_page,
)
from ..idempotent import take_write
from ..rows import AssistantFields, AssistantRow, changed, new_assistant_row
from .connection import RedisBase, _multi, _now, lua
from .keys import Keys
from .rows import assistant_row

if TYPE_CHECKING:
    from redis.asyncio.client import Pipeline

__all__ = ["AssistantStoreMixin"]

_CREATE = lua(
    "create_assistant",
    """
-- ARGV: sid, id, name, row JSON, #grants, grants..., index keys..., the recorded result,
-- the record's 3. Returns 1, a negative error code, or {hash, recorded result}.
local recorded = idem_recorded()
if recorded then return recorded end
local sid, id, name = ARGV[2], ARGV[3], ARGV[4]
local sk = space_key(sid)
if redis.call('EXISTS', sk) == 0 then return -1 end
local ak = sk .. ':assistant:' .. esc(id)
if redis.call('EXISTS', ak) == 1 then return -2 end
if redis.call('HEXISTS', sk .. ':assistant_names', name) == 1 then return -3 end
redis.call('SET', ak, ARGV[5])
redis.call('HSET', sk .. ':assistant_names', name, id)
local ng = tonumber(ARGV[6])
for i = 7, 6 + ng do redis.call('SADD', sk .. ':assistant_grants', ARGV[i]) end
for i = 7 + ng, #ARGV - 4 do redis.call('ZADD', ARGV[i], 0, id) end
idem_record(ARGV[#ARGV - 3])
return 1
""",
)

_LIST = lua(
    "list_assistants",
    """
-- ARGV: sid, ASC|DESC, cursor id ('' for none), want, index keys... Returns {id, JSON}
-- pairs, up to want from each index (the caller merges them).
local sk, desc, cursor, want = space_key(ARGV[2]), ARGV[3] == 'DESC', ARGV[4], tonumber(ARGV[5])
local out = {}
for i = 6, #ARGV do
  local ids
  if desc then
    ids = redis.call('ZRANGE', ARGV[i], cursor == '' and '+' or '(' .. cursor, '-',
                     'BYLEX', 'REV', 'LIMIT', 0, want)
  else
    ids = redis.call('ZRANGE', ARGV[i], cursor == '' and '-' or '(' .. cursor, '+',
                     'BYLEX', 'LIMIT', 0, want)
  end
  for _, id in ipairs(ids) do
    out[#out + 1] = {id, redis.call('GET', sk .. ':assistant:' .. esc(id))}
  end
end
return out
""",
)


def _index(keys: Keys, row: AssistantRow) -> list[str]:
    """The sorted sets of ids an assistant with this row belongs to."""
    space_id = row["space_id"]
    base = keys.assistants(space_id)
    out = [base]
    if not row["private"]:
        out.append(base + ":public")
        return out
    out += [keys.assistant_grant(space_id, grant) for grant in row["grants"]]
    if row["unlock_hash"] is not None:
        out.append(base + ":unlockable")
    return out


def _name_taken(space_id: str, name: str) -> AlreadyExists:
    return AlreadyExists(f"an assistant named {name!r} already exists in {space_id!r}")


class AssistantStoreMixin(RedisBase):
    # assistants -------------------------------------------------------------------------

    async def create_assistant(self, space_id: str, fields: AssistantFields) -> AssistantRow:
        stored, write = new_assistant_row(space_id, fields, _now()), take_write()
        grants = [str(grant) for grant in stored["grants"]]
        code = await self._eval(
            _CREATE,
            space_id,
            stored["id"],
            stored["name"],
            orjson.dumps(stored),
            len(grants),
            *grants,
            *_index(self.keys, stored),
            *self._recorded_args(write, stored),
        )
        if isinstance(code, list):
            return cast(AssistantRow, self._replayed(write, code))
        if code == -1:
            raise NotFound(f"space {space_id!r} does not exist")
        if code == -2:
            raise AlreadyExists(f"assistant {stored['id']!r} already exists")
        if code == -3:
            raise _name_taken(space_id, stored["name"])
        return stored

    async def get_assistant(self, space_id: str, assistant_id: str) -> AssistantRow | None:
        with self._guard():
            body = await self._redis.get(self.keys.assistant(space_id, assistant_id))
        return assistant_row(body) if body is not None else None

    async def list_assistants(
        self,
        space_id: str,
        limit: int,
        after: str | None,
        before: str | None,
        *,
        include_private: bool = True,
        granted_to: str | None = None,
    ) -> PageSlice[AssistantRow]:
        plan = keyset_plan("asc", has_after=after is not None, has_before=before is not None)
        cursor = before if before is not None else after
        base = self.keys.assistants(space_id)
        if include_private:
            indexes = [base]
        else:
            indexes = [base + ":public"]
            if granted_to is not None:
                indexes.append(self.keys.assistant_grant(space_id, granted_to))
        found = await self._eval(
            _LIST,
            space_id,
            plan.direction,
            cursor if plan.op and cursor is not None else "",
            limit + 1,
            *indexes,
        )
        # Merge the indexes' pages (UTF-8 bytes sort like code points).
        by_id = {assistant_id.decode(): body for assistant_id, body in found if body}
        ordered = sorted(by_id, reverse=plan.direction == "DESC")[: limit + 1]
        return slice_page([assistant_row(by_id[i]) for i in ordered], limit, plan)

    async def update_assistant(
        self, space_id: str, assistant_id: str, mutate: AssistantMutation
    ) -> AssistantRow | None:
        key = self.keys.assistant(space_id, assistant_id)
        names = self.keys.assistant_names(space_id)

        async def attempt(pipe: Pipeline) -> AssistantRow | None:
            await pipe.watch(key)
            body = await pipe.get(key)
            if body is None:
                return None
            row = assistant_row(body)
            changes = mutate(row.copy())
            if not changes:
                return row
            assert set(changes) <= ASSISTANT_COLUMNS_UPDATABLE, set(changes)
            new = changed(row, {**changes, "updated_at": _now()})
            new["private"] = bool(new["private"])
            renamed = new["name"] != row["name"]
            if renamed:
                await pipe.watch(names)
                if await pipe.hexists(names, new["name"]):
                    raise _name_taken(space_id, new["name"])
            old_index, new_index = set(_index(self.keys, row)), set(_index(self.keys, new))
            _multi(pipe)
            pipe.set(key, orjson.dumps(new))
            if renamed:
                pipe.hdel(names, row["name"])
                pipe.hset(names, new["name"], assistant_id)
            for grant in new["grants"]:
                pipe.sadd(self.keys.assistant_grants(space_id), str(grant))
            for index in old_index - new_index:
                pipe.zrem(index, assistant_id)
            for index in new_index - old_index:
                pipe.zadd(index, {assistant_id: 0})
            await pipe.execute()
            return new

        return await self._optimistic(attempt)

    async def delete_assistant(self, space_id: str, assistant_id: str) -> bool:
        key = self.keys.assistant(space_id, assistant_id)

        async def attempt(pipe: Pipeline) -> bool:
            await pipe.watch(key)
            body = await pipe.get(key)
            if body is None:
                return False
            row = assistant_row(body)
            _multi(pipe)
            pipe.unlink(key)
            pipe.hdel(self.keys.assistant_names(space_id), row["name"])
            for index in _index(self.keys, row):
                pipe.zrem(index, assistant_id)
            await pipe.execute()
            return True

        return await self._optimistic(attempt)

    async def list_unlockable_assistants(self, space_id: str) -> list[AssistantRow]:
        index = self.keys.assistants(space_id) + ":unlockable"
        found = await self._eval(_LIST, space_id, "ASC", "", UNLOCKABLE_ASSISTANTS_MAX, index)
        return [assistant_row(body) for _, body in found if body]
