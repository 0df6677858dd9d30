"""Messages on Redis.

An append is one script: it checks the thread and the message ids, takes the next numbers
from the thread's ``last_seq`` and writes the batch, so appends from any number of
processes are gapless and a refused batch writes nothing. Until a message is deleted,
sequence numbers have no gaps, so a page of all messages is a range of numbers read with
one ``HMGET``; after a deletion the page walks the range past the gaps (a page costs the
deleted numbers it passes too). The private and role filters read a sorted set of the
matching numbers first. A page costs O(log n + page), never the thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import orjson

from ...errors import AlreadyExists, NotFound, ThreadArchived
from ...ids import new_id
from ...models import MessageCreate
from ..base import (
    MESSAGE_ID_TAKEN,
    MessageQuery,
    PageSlice,
    keyset_plan,
    slice_page,
)
from ..idempotent import take_write, unstorable_refused
from ..rows import MessageRow, new_message_rows
from .connection import RedisBase, _now, lua
from .keys import escape
from .rows import message_row

__all__ = ["LUA_MESSAGES", "MessageStoreMixin"]

# Messages travel to the scripts as five arguments each: id, role, private ('1' or '0'),
# and the JSON of the stored row in two pieces around its seq, which only the script knows.
LUA_MESSAGES = """
local function ids_free(tk, start, n, existing)
  local seen = {}
  for i = 0, n - 1 do
    local id = ARGV[start + i * 5]
    if seen[id] then return false end
    if existing and redis.call('HEXISTS', tk .. ':ids', id) == 1 then return false end
    seen[id] = true
  end
  return true
end
-- ``at``: the thread's expiry in epoch ms ('' or false: none), set on every key written.
local function write_messages(tk, last, start, n, at)
  local written = {}
  for i = 0, n - 1 do
    local a = start + i * 5
    local seq = string.format('%d', last + i + 1)
    local rk = tk .. ':role:' .. esc(ARGV[a + 1])
    redis.call('HSET', tk .. ':msgs', seq, ARGV[a + 3] .. seq .. ARGV[a + 4])
    redis.call('HSET', tk .. ':ids', ARGV[a], seq)
    redis.call('SADD', tk .. ':roles', ARGV[a + 1])
    redis.call('ZADD', rk, seq, seq)
    written[rk] = true
    if ARGV[a + 2] ~= '1' then
      redis.call('ZADD', tk .. ':pub', seq, seq)
      redis.call('ZADD', rk .. ':pub', seq, seq)
      written[tk .. ':pub'] = true
      written[rk .. ':pub'] = true
    end
  end
  if n > 0 and at and at ~= '' then
    written[tk .. ':msgs'], written[tk .. ':ids'], written[tk .. ':roles'] = true, true, true
    for k in pairs(written) do redis.call('PEXPIREAT', k, at) end
  end
end
"""

_APPEND = lua(
    "append_messages",
    LUA_MESSAGES
    + """
-- ARGV: sid, tid, now, #messages, messages (5 values each), the record's 3. Returns the
-- first new seq, or {request hash, recorded rows} when the key is recorded already.
local recorded = idem_recorded()
if recorded then return recorded end
local sid, tid, now, n = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local tk = thread_key(sid, tid)
local f = redis.call('HMGET', tk, 'status', 'last_seq', 'updated_at', 'owner_id', 'expires_ms',
                     'created_at')
if not f[1] then return -1 end
if f[1] ~= 'active' then return -2 end
if n == 0 then return 0 end
if not ids_free(tk, 6, n, true) then return -3 end
local last = tonumber(f[2])
write_messages(tk, last, 6, n, f[5])
redis.call('HSET', tk, 'last_seq', string.format('%d', last + n), 'updated_at', now)
redis.call('HINCRBY', tk, 'message_count', n)
index_touch(sid, tid, f[3], now, f[1], f[4])
-- Not a sliding expiry: the thread keeps its expiry, the index entries move.
if f[5] then track_expiry(sid, tid, f[5], f[6], now, f[1], f[4]) end
if ARGV[#ARGV - 2] ~= '' then
  local rows = {}
  for i = 0, n - 1 do
    local a = 6 + i * 5
    rows[#rows + 1] = ARGV[a + 3] .. string.format('%d', last + i + 1) .. ARGV[a + 4]
  end
  idem_record('[' .. table.concat(rows, ',') .. ']')
end
return last + 1
""",
)

_LIST = lua(
    "list_messages",
    """
-- ARGV: sid, tid, filter set suffix ('' for every message), ASC|DESC, cursor seq ('' for
-- none), want. Returns false when the thread does not exist.
local tk = thread_key(ARGV[2], ARGV[3])
local suffix, desc, cursor, want = ARGV[4], ARGV[5] == 'DESC', ARGV[6], tonumber(ARGV[7])
local last = redis.call('HGET', tk, 'last_seq')
if not last then return false end
local seqs = {}
if suffix == '' and redis.call('HLEN', tk .. ':msgs') < tonumber(last) then
  -- Deleted messages left gaps: walk the numbers, a page's worth at a time, past them.
  last = tonumber(last)
  local step, s = 1, 1
  if desc then
    step, s = -1, last
    if cursor ~= '' then s = math.min(last, tonumber(cursor) - 1) end
  elseif cursor ~= '' then
    s = math.max(1, tonumber(cursor) + 1)
  end
  local out = {}
  while #out < want and s >= 1 and s <= last do
    local chunk = {}
    while #chunk < want - #out and s >= 1 and s <= last do
      chunk[#chunk + 1] = string.format('%d', s)
      s = s + step
    end
    local got = redis.call('HMGET', tk .. ':msgs', unpack(chunk))
    for i = 1, #got do
      if got[i] then out[#out + 1] = got[i] end
    end
  end
  return out
elseif suffix == '' then
  last = tonumber(last)
  if desc then
    local from = last
    if cursor ~= '' then from = math.min(last, tonumber(cursor) - 1) end
    for s = from, math.max(1, from - want + 1), -1 do seqs[#seqs + 1] = string.format('%d', s) end
  else
    local from = 1
    if cursor ~= '' then from = math.max(1, tonumber(cursor) + 1) end
    for s = from, math.min(last, from + want - 1) do seqs[#seqs + 1] = string.format('%d', s) end
  end
elseif desc then
  seqs = redis.call('ZRANGE', tk .. suffix, cursor == '' and '+inf' or '(' .. cursor, '-inf',
                    'BYSCORE', 'REV', 'LIMIT', 0, want)
else
  seqs = redis.call('ZRANGE', tk .. suffix, cursor == '' and '-inf' or '(' .. cursor, '+inf',
                    'BYSCORE', 'LIMIT', 0, want)
end
if #seqs == 0 then return {} end
return redis.call('HMGET', tk .. ':msgs', unpack(seqs))
""",
)


_GET = lua(
    "get_message",
    """
-- ARGV: sid, tid, message id. Returns the message's JSON, or false (no thread, no message).
local tk = thread_key(ARGV[2], ARGV[3])
local seq = redis.call('HGET', tk .. ':ids', ARGV[4])
if not seq then return false end
return redis.call('HGET', tk .. ':msgs', seq)
""",
)

_DELETE = lua(
    "delete_message",
    """
-- ARGV: sid, tid, now, message id. Returns the deleted message's JSON; -1: no thread, -2: the
-- thread is archived, false: no such message. Its number is not given again (last_seq stays).
local sid, tid, now, mid = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local tk = thread_key(sid, tid)
local f = redis.call('HMGET', tk, 'status', 'updated_at', 'owner_id')
if not f[1] then return -1 end
if f[1] ~= 'active' then return -2 end
local seq = redis.call('HGET', tk .. ':ids', mid)
if not seq then return false end
local body = redis.call('HGET', tk .. ':msgs', seq)
local rk = tk .. ':role:' .. esc(cjson.decode(body)['role'])
redis.call('HDEL', tk .. ':msgs', seq)
redis.call('HDEL', tk .. ':ids', mid)
redis.call('ZREM', rk, seq)
redis.call('ZREM', rk .. ':pub', seq)
redis.call('ZREM', tk .. ':pub', seq)
redis.call('HINCRBY', tk, 'message_count', -1)
redis.call('HSET', tk, 'updated_at', now)
index_touch(sid, tid, f[2], now, f[1], f[3])
return body
""",
)


_UNNUMBERED = b'"seq":0,'
"""Where a row's number goes in its JSON (no string holds it: their quotes are escaped)."""


def _message_args(
    thread_id: str, messages: Sequence[MessageCreate], now: str
) -> tuple[list[MessageRow], list[Any]]:
    """The messages' rows, numbered 0 until ``numbered``, and the arguments that carry
    them to a script: each row's JSON in two pieces around its seq, which only the script
    knows."""
    ids = [m.id or new_id("msg") for m in messages]
    rows = new_message_rows(thread_id, ids, [0] * len(ids), messages, now)
    args: list[Any] = []
    for row in rows:
        body = orjson.dumps(row)
        at = body.index(_UNNUMBERED)
        args += [
            row["id"],
            row["role"],
            "1" if row["private"] else "0",
            body[:at] + b'"seq":',
            b"," + body[at + len(_UNNUMBERED) :],
        ]
    return rows, args


def numbered(rows: list[MessageRow], first_seq: int) -> list[MessageRow]:
    """The rows of ``_message_args``, numbered from ``first_seq`` as the script did."""
    for seq, row in enumerate(rows, start=first_seq):
        row["seq"] = seq
    return rows


class MessageStoreMixin(RedisBase):
    # messages ---------------------------------------------------------------------------

    async def append_messages(
        self, space_id: str, thread_id: str, messages: Sequence[MessageCreate]
    ) -> list[MessageRow]:
        now, write = _now(), take_write()
        with unstorable_refused():
            rows, args = _message_args(thread_id, messages, now)
        first = await self._eval(
            _APPEND, space_id, thread_id, now, len(messages), *args, *self._record_args(write)
        )
        if isinstance(first, list):
            return cast(list[MessageRow], self._replayed(write, first))
        if first == -1:
            raise NotFound(f"thread {thread_id!r} does not exist")
        if first == -2:
            raise ThreadArchived(f"thread {thread_id!r} is archived; restore it first")
        if first == -3:
            raise AlreadyExists(MESSAGE_ID_TAKEN)
        return numbered(rows, first)

    async def list_messages(
        self, space_id: str, thread_id: str, query: MessageQuery
    ) -> PageSlice[MessageRow] | None:
        plan = keyset_plan(
            query.order,
            has_after=query.after_seq is not None,
            has_before=query.before_seq is not None,
        )
        cursor = query.before_seq if query.before_seq is not None else query.after_seq
        suffix = "" if query.role is None else ":role:" + escape(query.role)
        if not query.include_private:
            suffix += ":pub"
        bodies = await self._eval(
            _LIST,
            space_id,
            thread_id,
            suffix,
            plan.direction,
            str(cursor) if plan.op and cursor is not None else "",
            query.limit + 1,
        )
        if bodies is None:
            return None
        return slice_page([message_row(body) for body in bodies], query.limit, plan)

    async def get_message(
        self, space_id: str, thread_id: str, message_id: str
    ) -> MessageRow | None:
        body = await self._eval(_GET, space_id, thread_id, message_id)
        return None if body is None else message_row(body)

    async def delete_message(
        self, space_id: str, thread_id: str, message_id: str
    ) -> MessageRow | None:
        body = await self._eval(_DELETE, space_id, thread_id, _now(), message_id)
        if body == -1:
            raise NotFound(f"thread {thread_id!r} does not exist")
        if body == -2:
            raise ThreadArchived(f"thread {thread_id!r} is archived; restore it first")
        return None if body is None else message_row(body)
