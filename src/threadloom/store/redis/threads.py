"""Threads on Redis.

A thread is a hash; it is listed through lex-ordered sorted sets of ``<timestamp><id>``
members per space (by created_at and by updated_at; all threads, per status, per owner), so
a page without other filters is a range read of ``limit + 1`` members. The title, public,
metadata and ``q`` filters (the last two on the stored ``match_fields``) are checked in a
script on each member walked, at most ``_SCAN_BUDGET`` members per call, until the page is
full or the index ends.

A thread that expires has all its keys expire with it (see :mod:`.keys`); a listing skips
the index entries of one that expired and is not swept yet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from ...errors import AlreadyExists, NotFound, ValidationFailed
from ...models import MessageCreate, ThreadCreate
from ...timestamps import format_ts, utc_now
from ..base import (
    MESSAGE_ID_TAKEN,
    PURGE_BATCH,
    THREAD_COLUMNS_UPDATABLE,
    PageSlice,
    ThreadMutation,
    ThreadQuery,
    keyset_plan,
    requested_expiry,
    slice_page,
)
from ..idempotent import take_write
from ..matching import filter_terms, fold
from ..rows import MessageRow, ThreadRow, changed, new_thread_row
from .connection import (
    RedisBase,
    _cursor_member,
    _fields,
    _multi,
    _now,
    _pairs,
    _text,
    lua,
)
from .keys import (
    epoch_us,
    escape,
    expiry_entry,
    expiry_handle,
    index_members,
    thread_fields,
)
from .messages import LUA_MESSAGES, _message_args, numbered
from .rows import thread_row

if TYPE_CHECKING:
    from redis.asyncio.client import Pipeline

__all__ = ["ThreadStoreMixin"]

_SCAN_BUDGET = 2000
_STATUSES = frozenset({"active", "archived"})

_CREATE = lua(
    "create_thread",
    LUA_MESSAGES
    + """
-- ARGV: sid, tid, expires_at and its epoch ms ('' and '': the space's default), now in
--       epoch µs, #fields, fields..., #messages, messages (5 values each).
--       the recorded result in two pieces around its thread's expires_at, the record's 3.
-- Returns {1, expires_at or ''}, a negative error code, or {hash, recorded result}.
local recorded = idem_recorded()
if recorded then return recorded end
local sid, tid, nf = ARGV[2], ARGV[3], tonumber(ARGV[7])
local sk = space_key(sid)
if redis.call('EXISTS', sk) == 0 then return -1 end
local tk = thread_key(sid, tid)
if redis.call('EXISTS', tk) == 1 then return -2 end
local n = tonumber(ARGV[8 + nf])
if not ids_free(tk, 9 + nf, n, false) then return -3 end
-- The id may be that of a thread that expired: its index entries go first.
forget_expired(sid, tid)
local exp, at = ARGV[4], ARGV[5]
if exp == '' then
  local ttl = redis.call('HGET', sk, 'default_thread_ttl_seconds')
  if ttl then
    local us = tonumber(ARGV[6]) + tonumber(ttl) * 1000000
    exp, at = format_us(us), string.format('%d', math.floor(us / 1000))
  end
end
for i = 8, 7 + nf, 200 do
  redis.call('HSET', tk, unpack(ARGV, i, math.min(i + 199, 7 + nf)))
end
if exp ~= '' then redis.call('HSET', tk, 'expires_at', exp, 'expires_ms', at) end
write_messages(tk, 0, 9 + nf, n, at)
local f = redis.call('HMGET', tk, 'created_at', 'updated_at', 'status', 'owner_id')
index_add(sid, tid, f[1], f[2], f[3], f[4])
if exp ~= '' then
  redis.call('PEXPIREAT', tk, at)
  track_expiry(sid, tid, at, f[1], f[2], f[3], f[4])
end
idem_record(ARGV[#ARGV - 4] .. (exp == '' and 'null' or ('"' .. exp .. '"')) .. ARGV[#ARGV - 3])
return {1, exp}
""",
)

_PURGE = lua("purge_thread", "return purge_thread(ARGV[2], ARGV[3])")

_PURGE_OWNER = lua(
    "purge_owner",
    """
-- ARGV: sid, owner, batch. Purges up to batch threads of the owner (expired ones too);
-- returns {threads walked, threads purged that had not expired}.
local sid = ARGV[2]
local ix = index_key(sid, 'created', 'owner:' .. esc(ARGV[3]))
local batch = redis.call('ZRANGE', ix, 0, tonumber(ARGV[4]) - 1)
local purged = 0
for _, m in ipairs(batch) do
  purged = purged + purge_thread(sid, string.sub(m, 28))
  redis.call('ZREM', ix, m)  -- gone even if nothing else knew of it
end
return {#batch, purged}
""",
)

_SWEEP = lua(
    "sweep_expired",
    """
-- ARGV: limit. Removes the index entries of up to limit threads whose keys have expired
-- (by the server's clock, as the expiry itself); returns how many.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGE', EXPIRING, '-inf', '(' .. string.format('%d', now), 'BYSCORE',
                       'LIMIT', 0, tonumber(ARGV[2]))
local swept = 0
for _, h in ipairs(due) do
  local info = redis.call('HGET', EXPIRING_THREADS, h)
  if not info then
    redis.call('ZREM', EXPIRING, h)
  else
    local x = cjson.decode(info)
    local pttl = redis.call('PTTL', thread_key(x[1], x[2]))
    if pttl == -2 then
      forget_expired(x[1], x[2])
      swept = swept + 1
    elseif pttl == -1 then
      untrack_expiry(x[1], x[2])  -- no longer expires (never happens: kept in step)
    else
      redis.call('ZADD', EXPIRING, now + pttl, h)
    end
  end
end
return swept
""",
)

_LIST = lua(
    "list_threads",
    """
-- ARGV: sid, index key, ASC|DESC, cursor member ('' for none), want, budget, q (folded),
--       #checks, then per check: a field, #values, the values (it must equal one of them)
local sid, ix, desc, cursor = ARGV[2], ARGV[3], ARGV[4] == 'DESC', ARGV[5]
local want, budget, q, nc = tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8], tonumber(ARGV[9])
local fields, allowed = {}, {}
local at = 10
for i = 1, nc do
  fields[i] = ARGV[at]
  local set = {}
  for j = 1, tonumber(ARGV[at + 1]) do set[ARGV[at + 1 + j]] = true end
  allowed[i] = set
  at = at + 2 + tonumber(ARGV[at + 1])
end
if q ~= '' then fields[nc + 1] = 'title_folded' end
local filtered = #fields > 0
local out, scanned = {}, 0
while #out < want and scanned < budget do
  local n = want - #out
  if filtered then n = math.min(math.max(n * 4, 64), budget - scanned) end
  local batch
  if desc then
    batch = redis.call('ZRANGE', ix, cursor == '' and '+' or '(' .. cursor, '-',
                       'BYLEX', 'REV', 'LIMIT', 0, n)
  else
    batch = redis.call('ZRANGE', ix, cursor == '' and '-' or '(' .. cursor, '+',
                       'BYLEX', 'LIMIT', 0, n)
  end
  for _, m in ipairs(batch) do
    scanned = scanned + 1
    cursor = m
    local tk = thread_key(sid, string.sub(m, 28))
    local ok = true
    if filtered then
      local got = redis.call('HMGET', tk, unpack(fields))
      for i = 1, nc do
        if got[i] == false or not allowed[i][got[i]] then
          ok = false
          break
        end
      end
      if ok and q ~= '' then
        ok = got[nc + 1] ~= false and string.find(got[nc + 1], q, 1, true) ~= nil
      end
    end
    if ok then
      local h = redis.call('HGETALL', tk)
      -- Nothing: the thread expired and the sweep has not removed its entries yet.
      if #h > 0 then
        out[#out + 1] = h
        if #out >= want then break end
      end
    end
  end
  if #batch < n then return {out, ''} end
end
if #out >= want then return {out, ''} end
return {out, cursor}
""",
)


def _column_value(column: str, value: Any) -> Any:
    """A column value from a mutation callback, as the row shows it."""
    if column == "archived_at" and isinstance(value, datetime):
        return format_ts(value)
    if column == "status" and value not in _STATUSES:
        raise ValidationFailed(f"a thread's status is active or archived, not {value!r}")
    if column == "public":
        return bool(value)
    return value


def _stored(value: Any) -> bytes:
    """A field value as Redis stores it."""
    if isinstance(value, bytes):
        return value
    return str(value).encode()


class ThreadStoreMixin(RedisBase):
    # threads ----------------------------------------------------------------------------

    async def create_thread(
        self,
        space_id: str,
        thread_id: str,
        thread: ThreadCreate,
        messages: Sequence[MessageCreate],
    ) -> tuple[ThreadRow, list[MessageRow]]:
        moment = utc_now()
        now = format_ts(moment)
        version = 0 if thread.state is None else 1
        role_mapping = {k: v.model_dump() for k, v in thread.role_mapping.items()}
        expiry = requested_expiry(moment, thread)
        row = new_thread_row(
            space_id,
            thread_id,
            thread,
            state_version=version,
            role_mapping=role_mapping,
            message_count=len(messages),
            now=now,
            expires_at=format_ts(expiry) if expiry is not None else None,
        )
        fields = thread_fields(row, len(messages), now if version else None)
        flat = [item for pair in fields.items() for item in pair]
        unnumbered, message_args = _message_args(thread_id, messages, now)
        stored = numbered(unnumbered, 1)
        write = take_write()
        record: tuple[Any, ...] = ("", "", "", "", "")
        if write is not None:
            # The record as the script finishes it: the thread's expiry only it knows.
            thread_json = write.record_body({**row, "expires_at": None})  # expires_at is last
            head = b"[" + thread_json[: -len(b"null}")]
            tail = b"}," + write.record_body(stored) + b"]"
            record = (head, tail, *self._record_args(write))
        code = await self._eval(
            _CREATE,
            space_id,
            thread_id,
            fields.get("expires_at", ""),
            fields.get("expires_ms", ""),
            epoch_us(moment),
            len(flat),
            *flat,
            len(messages),
            *message_args,
            *record,
        )
        if isinstance(code, list) and len(code) == 2 and isinstance(code[0], bytes):
            replayed = self._replayed(write, code)
            return replayed[0], replayed[1]
        if code == -1:
            raise NotFound(f"space {space_id!r} does not exist")
        if code == -2:
            raise AlreadyExists(f"thread {thread_id!r} already exists")
        if code == -3:
            raise AlreadyExists(MESSAGE_ID_TAKEN)
        row["expires_at"] = code[1].decode() or None
        return row, stored

    async def get_thread(self, space_id: str, thread_id: str) -> ThreadRow | None:
        with self._guard():
            h = await self._redis.hgetall(self.keys.thread(space_id, thread_id))
        return thread_row(_fields(h)) if h else None

    async def list_threads(self, space_id: str, query: ThreadQuery) -> PageSlice[ThreadRow]:
        plan = keyset_plan(
            query.order, has_after=query.after is not None, has_before=query.before is not None
        )
        cursor = query.before if query.before is not None else query.after
        member = _cursor_member(cursor) if plan.op and cursor is not None else ""
        checks: list[tuple[str, Sequence[str]]] = []
        if query.owner_id is not None:
            # Walk the owner's index and check the status on each thread.
            group = "owner:" + escape(query.owner_id)
            if query.status != "all":
                checks.append(("status", [query.status]))
        else:
            group = query.status
        if query.title is not None:
            checks.append(("title", [query.title]))
        if query.public is not None:
            checks.append(("public", ["1" if query.public else "0"]))
        # The stored match fields: see store/matching.py for what matches what.
        for key, value in query.metadata:
            checks.append(("m:" + key, filter_terms(value)))
        check_args = [arg for name, values in checks for arg in (name, len(values), *values)]
        index = self.keys.index(space_id, query.order_by.removesuffix("_at"), group)
        q = fold(query.q) if query.q else ""
        want = query.limit + 1
        rows: list[ThreadRow] = []
        seen: set[str] = set()
        while True:
            found, resume = await self._eval(
                _LIST,
                space_id,
                index,
                plan.direction,
                member,
                want - len(rows),
                max(_SCAN_BUDGET, want),
                q,
                len(checks),
                *check_args,
            )
            for flat in found:
                row = thread_row(_pairs(flat))
                # Between two calls a thread may move in the index: never show it twice.
                if row["id"] not in seen:
                    seen.add(row["id"])
                    rows.append(row)
            if len(rows) >= want or not resume:
                break
            member = resume.decode()
        return slice_page(rows, query.limit, plan)

    async def update_thread(
        self, space_id: str, thread_id: str, mutate: ThreadMutation
    ) -> ThreadRow | None:
        key = self.keys.thread(space_id, thread_id)

        async def attempt(pipe: Pipeline) -> ThreadRow | None:
            await pipe.watch(key)
            h = _fields(await pipe.hgetall(key))
            if not h:
                return None
            row = thread_row(h)
            changes = mutate(row.copy())
            if not changes:
                return row
            assert set(changes) <= THREAD_COLUMNS_UPDATABLE, set(changes)
            shown = {c: _column_value(c, v) for c, v in changes.items()}
            new = changed(row, {**shown, "updated_at": _now()})
            fields = thread_fields(new, int(h[b"last_seq"]), _text(h.get(b"state_updated_at")))
            old_index = set(_thread_index(self, row))
            new_index = set(_thread_index(self, new))
            old_ms = h.get(b"expires_ms")
            new_ms = fields.get("expires_ms")
            children: list[str] = []
            if old_ms != (_stored(new_ms) if new_ms is not None else None):
                # The expiry moves or goes: it does on every key of the thread.
                roles = cast("set[bytes]", await pipe.smembers(key + ":roles"))
                children = _thread_keys(key, roles)
            # Write only what changed: a new title must not rewrite a large state.
            rewritten = {f: v for f, v in fields.items() if h.get(f.encode()) != _stored(v)}
            stale = [f for f in h if f.decode() not in fields]
            _multi(pipe)
            if stale:
                pipe.hdel(key, *stale)
            if rewritten:
                pipe.hset(key, mapping=cast("Mapping[Any, Any]", rewritten))
            for index, member in old_index - new_index:
                pipe.zrem(index, member)
            for index, member in new_index - old_index:
                pipe.zadd(index, {member: 0})
            handle = expiry_handle(space_id, thread_id)
            if new_ms is not None:
                for child in children:
                    pipe.pexpireat(child, new_ms)
                pipe.zadd(self.keys.expiring(), {handle: new_ms})
                entry = expiry_entry(
                    new["space_id"],
                    new["id"],
                    new["created_at"],
                    new["updated_at"],
                    new["status"],
                    new["owner_id"],
                )
                pipe.hset(self.keys.expiring_threads(), handle, entry)
            elif old_ms is not None:
                for child in children:
                    pipe.persist(child)
                pipe.zrem(self.keys.expiring(), handle)
                pipe.hdel(self.keys.expiring_threads(), handle)
            await pipe.execute()
            return new

        return await self._optimistic(attempt)

    async def purge_thread(self, space_id: str, thread_id: str) -> bool:
        return bool(await self._eval(_PURGE, space_id, thread_id))

    async def purge_owner(self, space_id: str, owner_id: str) -> int:
        # Through the owner's index, a batch per script, so Redis is never blocked for
        # long by one huge owner.
        deleted = 0
        while True:
            walked, purged = await self._eval(_PURGE_OWNER, space_id, owner_id, PURGE_BATCH)
            deleted += int(purged)
            if not walked:
                return deleted

    async def sweep_expired(self, limit: int) -> int:
        # The keys expired on their own: this removes their index entries.
        return int(await self._eval(_SWEEP, limit))


def _thread_keys(key: str, roles: set[bytes]) -> list[str]:
    """Every key of the thread whose hash is ``key``."""
    keys = [key] + [key + suffix for suffix in (":msgs", ":ids", ":pub", ":roles", ":states")]
    for role in roles:
        role_key = f"{key}:role:{escape(role.decode())}"
        keys += [role_key, role_key + ":pub"]
    return keys


def _thread_index(store: RedisBase, row: ThreadRow) -> list[tuple[str, str]]:
    return index_members(
        store.keys,
        row["space_id"],
        row["id"],
        row["created_at"],
        row["updated_at"],
        row["status"],
        row["owner_id"],
    )
