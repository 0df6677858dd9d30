"""Thread state on Redis.

The state is a field of the thread's hash; earlier versions are a sorted set of their rows
scored by version, so a page of history is one range read. State writes run the caller's
Python function, so they are WATCH/MULTI transactions on the thread's hash, retried when
another write got there first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from ...errors import ThreadArchived
from ..base import PageSlice, StateMutation, keyset_plan, slice_page
from ..rows import StateRow, StateVersionRow, state_row
from .connection import RedisBase, _loads, _multi, _now, _text, _values, lua
from .keys import expiry_entry, expiry_handle, index_members
from .rows import state_version_row

if TYPE_CHECKING:
    from redis.asyncio.client import Pipeline

__all__ = ["StateStoreMixin"]

_VERSIONS = lua(
    "list_state_versions",
    """
-- ARGV: sid, tid, ASC|DESC, cursor version ('' for none), want.
local tk = thread_key(ARGV[2], ARGV[3])
if redis.call('EXISTS', tk) == 0 then return false end
local cursor, want = ARGV[5], tonumber(ARGV[6])
if ARGV[4] == 'DESC' then
  return redis.call('ZRANGE', tk .. ':states', cursor == '' and '+inf' or '(' .. cursor, '-inf',
                    'BYSCORE', 'REV', 'LIMIT', 0, want)
end
return redis.call('ZRANGE', tk .. ':states', cursor == '' and '-inf' or '(' .. cursor, '+inf',
                  'BYSCORE', 'LIMIT', 0, want)
""",
)


def _version_member(version: int, state: bytes, created_at: str) -> bytes:
    """An earlier state version, stored as its row's JSON (unique: it holds the version)."""
    head = orjson.dumps(
        {"object": "thread.state.version", "version": version, "created_at": created_at}
    )
    return head[:-1] + b',"state":' + state + b"}"


class StateStoreMixin(RedisBase):
    # state ------------------------------------------------------------------------------

    async def get_state(self, space_id: str, thread_id: str) -> StateRow | None:
        with self._guard():
            state, version, updated_at = _values(
                await self._redis.hmget(
                    self.keys.thread(space_id, thread_id),
                    ["state", "state_version", "state_updated_at"],
                )
            )
        if state is None or version is None:
            return None
        return state_row(thread_id, _loads(state), int(version), _text(updated_at))

    async def write_state(
        self, space_id: str, thread_id: str, mutate: StateMutation, keep_versions: int
    ) -> StateRow | None:
        key = self.keys.thread(space_id, thread_id)
        columns = ["status", "state", "state_version", "state_updated_at", "created_at"]
        columns += ["updated_at", "owner_id", "expires_ms"]

        async def attempt(pipe: Pipeline) -> StateRow | None:
            await pipe.watch(key)
            status, old, version_text, old_at, created, updated, owner, expires_ms = _values(
                await pipe.hmget(key, columns)
            )
            if status is None or old is None or version_text is None:
                return None
            assert created is not None
            assert updated is not None
            if status != b"active":
                raise ThreadArchived(f"thread {thread_id!r} is archived; restore it first")
            version = int(version_text)
            new_state = mutate(_loads(old), version)
            now = _now()
            index = index_members(
                self.keys,
                space_id,
                thread_id,
                created.decode(),
                updated.decode(),
                "active",
                _text(owner),
            )
            _multi(pipe)
            if version > 0 and keep_versions > 0:
                member = _version_member(version, old, _text(old_at) or now)
                pipe.zadd(key + ":states", {member: version})
            pipe.zremrangebyscore(key + ":states", "-inf", version - keep_versions)
            pipe.hset(
                key,
                mapping={
                    "state": orjson.dumps(new_state),
                    "state_version": version + 1,
                    "state_updated_at": now,
                    "updated_at": now,
                },
            )
            for ix, member_text in index[1::2]:  # the updated_at indexes
                pipe.zrem(ix, member_text)
                pipe.zadd(ix, {now + thread_id: 0})
            if expires_ms is not None:
                # The history may be a new key: it expires with the thread. The tracked
                # index entries move with updated_at (the expiry does not).
                pipe.pexpireat(key + ":states", int(expires_ms))
                pipe.hset(
                    self.keys.expiring_threads(),
                    expiry_handle(space_id, thread_id),
                    expiry_entry(
                        space_id, thread_id, created.decode(), now, "active", _text(owner)
                    ),
                )
            await pipe.execute()
            return state_row(thread_id, new_state, version + 1, now)

        return await self._optimistic(attempt)

    async def list_state_versions(
        self,
        space_id: str,
        thread_id: str,
        limit: int,
        after_version: int | None,
        before_version: int | None,
    ) -> PageSlice[StateVersionRow] | None:
        # Newest first: "after" walks towards older versions.
        plan = keyset_plan(
            "desc", has_after=after_version is not None, has_before=before_version is not None
        )
        cursor = before_version if before_version is not None else after_version
        members = await self._eval(
            _VERSIONS,
            space_id,
            thread_id,
            plan.direction,
            str(cursor) if plan.op and cursor is not None else "",
            limit + 1,
        )
        if members is None:
            return None
        return slice_page([state_version_row(m) for m in members], limit, plan)
