"""The key layout, built the same way in Python (for WATCH/MULTI transactions) and in Lua
(for the scripts), and the encoding of thread fields.

Every key starts with the prefix ``P`` (``Settings.redis_prefix``). Ids are free text, so
each id inside a key name is escaped (``%`` → ``%25``, ``:`` → ``%3A``): a key's parts never
contain ``:`` and no two resources share a key. ``S`` is a space id, ``T`` a thread id::

    P:schema                        "2" once the store is initialised (the default space made);
                                    "1" before the thread hashes had their ``match_fields``
    P:spaces                        ZSET (all scores 0) of space ids, walked by lex range
    P:space:S                       HASH name, metadata, created_at
    P:space:S:keys                  SET ids of the API keys bound to the space
    P:space:S:assistant:A           STRING the assistant's row as JSON
    P:space:S:assistants            ZSET (scores 0) of the space's assistant ids; with
                                    :public, :unlockable and :grant:KEY_ID after it, the
                                    public ones, the private ones with an unlock phrase,
                                    and the private ones granted to an API key
    P:space:S:assistant_grants      SET every KEY_ID a :grant: set was made for
    P:space:S:assistant_names       HASH name → assistant id (names are unique per space)
    P:space:S:ix:O:G                ZSET (scores 0) of "<timestamp><thread id>" members:
                                    O is created or updated, G is all, active, archived
                                    or owner:OWNER; timestamps are fixed-width text, so a
                                    lex range walks (timestamp, id) tuples like an index
    P:thread:S:T                    HASH the thread's columns (see ``thread_fields``)
    P:thread:S:T:msgs               HASH seq → the message row as JSON
    P:thread:S:T:ids                HASH message id → seq (ids are unique per thread)
    P:thread:S:T:pub                ZSET seq of the messages that are not private
    P:thread:S:T:roles              SET roles the thread's messages use
    P:thread:S:T:role:R             ZSET seq of the messages of role R
    P:thread:S:T:role:R:pub         ZSET seq of the non-private messages of role R
    P:thread:S:T:states             ZSET version → earlier state version row as JSON
    P:expiring                      ZSET "S:T" (escaped) of the threads that expire, scored
                                    by their expiry in epoch milliseconds
    P:expiring:threads              HASH "S:T" → JSON [S, T, created_at, updated_at, status,
                                    owner or false]: the thread's index entries, kept up to
                                    date, so they can be removed once its keys are gone
    P:keys                          ZSET (scores 0) of API key ids
    P:key:K                         HASH the API key's columns
    P:key_hashes                    HASH key hash → key id
    P:keys_revoked                  SET ids of revoked keys
    P:idem:SCOPE:KEY                HASH an idempotency record (request hash, result)
    P:idems                         ZSET idempotency record keys scored by creation (µs)
    P:lease:NAME                    STRING the holder, expiring with the lease

A thread that expires (``expires_at``, and ``expires_ms`` in its hash) has every one of its
``P:thread:S:T*`` keys set to expire at that millisecond (PEXPIREAT, set again on each key a
write creates), so Redis itself deletes them and every read finds nothing from that instant.
The index entries (``P:space:S:ix:*``) cannot expire with them: ``P:expiring`` and
``P:expiring:threads`` say where they are, and the sweep, a purge or creating a thread
with the same id removes them; listings skip entries whose thread is gone meanwhile.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from ...timestamps import parse_ts
from ..matching import fold, metadata_terms
from ..rows import ThreadRow

__all__ = [
    "LUA_PRELUDE",
    "Keys",
    "epoch_ms",
    "epoch_us",
    "escape",
    "expiry_entry",
    "expiry_handle",
    "index_members",
    "match_fields",
    "thread_fields",
]

TS_WIDTH = 27
"""Length of every stored timestamp (``format_ts``): index members are timestamp + id."""


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def escape(part: str) -> str:
    return part.replace("%", "%25").replace(":", "%3A")


def epoch_us(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def epoch_ms(stamp: str) -> int:
    """A stored timestamp as the epoch milliseconds PEXPIREAT takes."""
    return (parse_ts(stamp) - _EPOCH) // timedelta(milliseconds=1)


def expiry_handle(space_id: str, thread_id: str) -> str:
    """A thread's member of ``P:expiring`` and field of ``P:expiring:threads``."""
    return f"{escape(space_id)}:{escape(thread_id)}"


def expiry_entry(
    space_id: str,
    thread_id: str,
    created_at: str,
    updated_at: str,
    status: str,
    owner_id: str | None,
) -> bytes:
    """A thread's value in ``P:expiring:threads``, as ``track_expiry`` writes it in Lua."""
    owner: str | bool = owner_id if owner_id is not None else False
    return orjson.dumps([space_id, thread_id, created_at, updated_at, status, owner])


class Keys:
    """Key names under one prefix."""

    __slots__ = ("prefix",)

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def schema(self) -> str:
        return f"{self.prefix}:schema"

    def spaces(self) -> str:
        return f"{self.prefix}:spaces"

    def space(self, space_id: str) -> str:
        return f"{self.prefix}:space:{escape(space_id)}"

    def index(self, space_id: str, order: str, group: str) -> str:
        return f"{self.space(space_id)}:ix:{order}:{group}"

    def thread(self, space_id: str, thread_id: str) -> str:
        return f"{self.prefix}:thread:{escape(space_id)}:{escape(thread_id)}"

    def api_key(self, key_id: str) -> str:
        return f"{self.prefix}:key:{escape(key_id)}"

    def api_keys(self) -> str:
        return f"{self.prefix}:keys"

    def api_key_hashes(self) -> str:
        return f"{self.prefix}:key_hashes"

    def api_keys_revoked(self) -> str:
        return f"{self.prefix}:keys_revoked"

    def idempotency(self, scope: str, key: str) -> str:
        return f"{self.prefix}:idem:{escape(scope)}:{escape(key)}"

    def idempotency_index(self) -> str:
        return f"{self.prefix}:idems"

    def assistant(self, space_id: str, assistant_id: str) -> str:
        return f"{self.space(space_id)}:assistant:{escape(assistant_id)}"

    def assistants(self, space_id: str) -> str:
        return f"{self.space(space_id)}:assistants"

    def assistant_grant(self, space_id: str, grant: str) -> str:
        return f"{self.assistants(space_id)}:grant:{escape(grant)}"

    def assistant_grants(self, space_id: str) -> str:
        return f"{self.space(space_id)}:assistant_grants"

    def assistant_names(self, space_id: str) -> str:
        return f"{self.space(space_id)}:assistant_names"

    def lease(self, name: str) -> str:
        return f"{self.prefix}:lease:{escape(name)}"

    def expiring(self) -> str:
        return f"{self.prefix}:expiring"

    def expiring_threads(self) -> str:
        return f"{self.prefix}:expiring:threads"


# The same builders in Lua. Every script starts with this prelude and gets the prefix as
# ARGV[1]; its own arguments start at ARGV[2]. Scripts build key names themselves (walking
# an index yields ids, not keys), so they need a standalone Redis, not a cluster.
LUA_PRELUDE = """
local P = ARGV[1]
-- A create under an Idempotency-Key gets three more arguments, last: the record's key ('' for
-- none), the request's hash and the time in µs. Its script looks the record up before its
-- effect (idem_recorded: false, or {request hash, recorded result}) and writes it with the
-- effect (idem_record): both happen in the one script, or neither does.
local function idem_recorded()
  local k = ARGV[#ARGV - 2]
  if k == '' then return false end
  local r = redis.call('HMGET', k, 'request_hash', 'status', 'response_body')
  if r[1] and r[2] == 'done' then return {r[1], r[3]} end
  return false
end
local function idem_record(body)
  local k = ARGV[#ARGV - 2]
  if k == '' then return end
  redis.call('DEL', k)
  redis.call('HSET', k, 'request_hash', ARGV[#ARGV - 1], 'status', 'done', 'response_body', body,
             'created_at', ARGV[#ARGV])
  redis.call('ZADD', P .. ':idems', ARGV[#ARGV], k)
end
local function esc(s) return (s:gsub('%%', '%%25'):gsub(':', '%%3A')) end
local function space_key(sid) return P .. ':space:' .. esc(sid) end
local function thread_key(sid, tid) return P .. ':thread:' .. esc(sid) .. ':' .. esc(tid) end
local function index_key(sid, order, group)
  return space_key(sid) .. ':ix:' .. order .. ':' .. group
end
local function index_entries(sid, tid, created, updated, status, owner)
  local groups = {'all', status}
  if owner then groups[3] = 'owner:' .. esc(owner) end
  local out = {}
  for _, g in ipairs(groups) do
    out[#out + 1] = {index_key(sid, 'created', g), created .. tid}
    out[#out + 1] = {index_key(sid, 'updated', g), updated .. tid}
  end
  return out
end
local function index_add(sid, tid, created, updated, status, owner)
  for _, e in ipairs(index_entries(sid, tid, created, updated, status, owner)) do
    redis.call('ZADD', e[1], 0, e[2])
  end
end
local function index_rem(sid, tid, created, updated, status, owner)
  for _, e in ipairs(index_entries(sid, tid, created, updated, status, owner)) do
    redis.call('ZREM', e[1], e[2])
  end
end
local function index_touch(sid, tid, old_updated, new_updated, status, owner)
  local groups = {'all', status}
  if owner then groups[3] = 'owner:' .. esc(owner) end
  for _, g in ipairs(groups) do
    local k = index_key(sid, 'updated', g)
    redis.call('ZREM', k, old_updated .. tid)
    redis.call('ZADD', k, 0, new_updated .. tid)
  end
end
local EXPIRING, EXPIRING_THREADS = P .. ':expiring', P .. ':expiring:threads'
local function expiry_handle(sid, tid) return esc(sid) .. ':' .. esc(tid) end
-- Where an expiring thread sits in the indexes (owner false when it has none), expiring
-- at epoch millisecond ``at``: written whenever those entries move.
local function track_expiry(sid, tid, at, created, updated, status, owner)
  local h = expiry_handle(sid, tid)
  redis.call('ZADD', EXPIRING, at, h)
  redis.call('HSET', EXPIRING_THREADS, h,
             cjson.encode({sid, tid, created, updated, status, owner or false}))
end
local function untrack_expiry(sid, tid)
  local h = expiry_handle(sid, tid)
  redis.call('ZREM', EXPIRING, h)
  redis.call('HDEL', EXPIRING_THREADS, h)
end
local function delete_thread_keys(tk)
  for _, role in ipairs(redis.call('SMEMBERS', tk .. ':roles')) do
    redis.call('UNLINK', tk .. ':role:' .. esc(role), tk .. ':role:' .. esc(role) .. ':pub')
  end
  redis.call('UNLINK', tk, tk .. ':msgs', tk .. ':ids', tk .. ':pub', tk .. ':roles',
             tk .. ':states')
end
-- A thread whose keys have expired: remove its index entries. True if it was tracked.
local function forget_expired(sid, tid)
  local info = redis.call('HGET', EXPIRING_THREADS, expiry_handle(sid, tid))
  if not info then return false end
  local t = cjson.decode(info)
  index_rem(sid, tid, t[3], t[4], t[5], t[6])
  untrack_expiry(sid, tid)
  delete_thread_keys(thread_key(sid, tid))
  return true
end
local function purge_thread(sid, tid)
  local tk = thread_key(sid, tid)
  local f = redis.call('HMGET', tk, 'created_at', 'updated_at', 'status', 'owner_id',
                       'expires_ms')
  if not f[1] then
    forget_expired(sid, tid)
    return 0
  end
  index_rem(sid, tid, f[1], f[2], f[3], f[4])
  if f[5] then untrack_expiry(sid, tid) end
  delete_thread_keys(tk)
  return 1
end
-- Epoch microseconds as the stored RFC 3339 text (what format_ts writes).
local function format_us(us)
  local secs = math.floor(us / 1000000)
  local frac = us - secs * 1000000
  local days = math.floor(secs / 86400)
  local rem = secs - days * 86400
  -- Days to a civil date (H. Hinnant's algorithm).
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
                          - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local day = doy - math.floor((153 * mp + 2) / 5) + 1
  local month = mp < 10 and mp + 3 or mp - 9
  local year = yoe + era * 400
  if month <= 2 then year = year + 1 end
  return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%06dZ', year, month, day,
                       math.floor(rem / 3600), math.floor(rem % 3600 / 60), rem % 60, frac)
end
"""


def index_members(
    keys: Keys,
    space_id: str,
    thread_id: str,
    created_at: str,
    updated_at: str,
    status: str,
    owner_id: str | None,
) -> list[tuple[str, str]]:
    """The (index key, member) pairs a thread with these columns belongs to."""
    groups = ["all", status]
    if owner_id is not None:
        groups.append("owner:" + escape(owner_id))
    out = []
    for group in groups:
        out.append((keys.index(space_id, "created", group), created_at + thread_id))
        out.append((keys.index(space_id, "updated", group), updated_at + thread_id))
    return out


def match_fields(title: str | None, metadata: dict[str, Any]) -> dict[str, str]:
    """The hash fields the listing filters read (see ``store/matching.py``): ``title_folded``
    (absent without a title) and an ``m:KEY`` term per metadata key that can match."""
    out = {"m:" + key: term for key, term in metadata_terms(metadata).items()}
    if title is not None:
        out["title_folded"] = fold(title)
    return out


def thread_fields(row: ThreadRow, last_seq: int, state_updated_at: str | None) -> dict[str, Any]:
    """A thread row (wire shape) as the fields of its hash; ``None`` columns are left out.

    Besides the columns: ``last_seq``, ``state_updated_at``, ``expires_ms`` (the expiry as
    PEXPIREAT takes it) and the ``match_fields``."""
    fields: dict[str, Any] = {
        "id": row["id"],
        "space_id": row["space_id"],
        "public": "1" if row["public"] else "0",
        "status": row["status"],
        "metadata": orjson.dumps(row["metadata"]),
        "state": orjson.dumps(row["state"]),
        "state_version": row["state_version"],
        "role_mapping": orjson.dumps(row["role_mapping"]),
        "message_count": row["message_count"],
        "last_seq": last_seq,
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }
    if row["owner_id"] is not None:
        fields["owner_id"] = row["owner_id"]
    if row["archived_at"] is not None:
        fields["archived_at"] = row["archived_at"]
    if row["expires_at"] is not None:
        fields["expires_at"] = row["expires_at"]
        fields["expires_ms"] = epoch_ms(row["expires_at"])
    if row["title"] is not None:
        fields["title"] = row["title"]
    if state_updated_at is not None:
        fields["state_updated_at"] = state_updated_at
    fields.update(match_fields(row["title"], row["metadata"]))
    return fields
