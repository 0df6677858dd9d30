"""The key layout, built the same way in Python (for WATCH/MULTI transactions) and in Lua
(for the scripts), and the encoding of thread fields.

Every key starts with the prefix ``P`` (``Settings.redis_prefix``). Ids are free text, so
each id inside a key name is escaped (``%`` → ``%25``, ``:`` → ``%3A``): a key's parts never
contain ``:`` and no two resources share a key. ``S`` is a space id, ``T`` a thread id::

    P:schema                        "1" once the store is initialised (the default space made)
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
    P:keys                          ZSET (scores 0) of API key ids
    P:key:K                         HASH the API key's columns
    P:key_hashes                    HASH key hash → key id
    P:keys_revoked                  SET ids of revoked keys
    P:idem:SCOPE:KEY                HASH an idempotency record (its lease end in µs)
    P:idems                         ZSET idempotency record keys scored by creation (µs)
    P:lease:NAME                    STRING the holder, expiring with the lease
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = [
    "LUA_PRELUDE",
    "Keys",
    "escape",
    "index_members",
    "metadata_fields",
    "metadata_text",
    "thread_fields",
]

TS_WIDTH = 27
"""Length of every stored timestamp (``format_ts``): index members are timestamp + id."""


def escape(part: str) -> str:
    return part.replace("%", "%25").replace(":", "%3A")


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


# The same builders in Lua. Every script starts with this prelude and gets the prefix as
# ARGV[1]; its own arguments start at ARGV[2]. Scripts build key names themselves (walking
# an index yields ids, not keys), so they need a standalone Redis, not a cluster.
LUA_PRELUDE = """
local P = ARGV[1]
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
local function purge_thread(sid, tid)
  local tk = thread_key(sid, tid)
  local f = redis.call('HMGET', tk, 'created_at', 'updated_at', 'status', 'owner_id')
  if not f[1] then return 0 end
  index_rem(sid, tid, f[1], f[2], f[3], f[4])
  for _, role in ipairs(redis.call('SMEMBERS', tk .. ':roles')) do
    redis.call('UNLINK', tk .. ':role:' .. esc(role), tk .. ':role:' .. esc(role) .. ':pub')
  end
  redis.call('UNLINK', tk, tk .. ':msgs', tk .. ':ids', tk .. ':pub', tk .. ':roles',
             tk .. ':states')
  return 1
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


def metadata_text(value: Any) -> str | None:
    """A metadata value's text form, as the ``metadata[KEY]=VALUE`` filter compares it:
    strings as they are, numbers as written, ``true``/``false``; null matches nothing."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    return orjson.dumps(value).decode()


def metadata_fields(metadata: dict[str, Any]) -> dict[str, str]:
    """The ``m:KEY`` hash fields the metadata filter reads."""
    out = {}
    for key, value in metadata.items():
        text = metadata_text(value)
        if text is not None:
            out["m:" + key] = text
    return out


def thread_fields(
    row: dict[str, Any], last_seq: int, state_updated_at: str | None
) -> dict[str, Any]:
    """A thread row (wire shape) as the fields of its hash; ``None`` columns are left out.

    Besides the columns: ``last_seq``, ``state_updated_at``, ``title_lc`` (the lower-cased
    title the ``q`` search reads) and an ``m:KEY`` field per metadata key."""
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
    for column in ("owner_id", "archived_at"):
        if row[column] is not None:
            fields[column] = row[column]
    if row["title"] is not None:
        fields["title"] = row["title"]
        fields["title_lc"] = row["title"].lower()
    if state_updated_at is not None:
        fields["state_updated_at"] = state_updated_at
    fields.update(metadata_fields(row["metadata"]))
    return fields
