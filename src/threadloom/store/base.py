"""The store contract every backend implements, and the small helpers they share.

Rows cross this boundary as plain dicts already in their wire shape (timestamps as RFC 3339
text, JSON columns decoded), so the request path serializes them once with orjson and never
builds model objects. Rules live in the services; the store holds every query and keeps each
operation atomic: an append is one statement on PostgreSQL and one write transaction on SQLite.
A create made under an Idempotency-Key writes the key's record in that same unit (a
PostgreSQL transaction then), so the two commit together (see ``store.idempotent``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from ..models import MessageCreate, ThreadCreate
from ..timestamps import format_ts, now_ts, parse_ts, utc_now

# The time helpers moved to ``threadloom.timestamps``; they stay importable from here until
# the code that still imports them from the store (the CLI and its tests) has moved too.

__all__ = [
    "IdempotencyRecord",
    "KeysetPlan",
    "MessageQuery",
    "Order",
    "PageSlice",
    "Row",
    "Store",
    "ThreadQuery",
    "expiry_of",
    "format_ts",
    "keyset_plan",
    "now_ts",
    "parse_ts",
    "requested_expiry",
    "slice_page",
    "utc_now",
]

Row = dict[str, Any]
Order = Literal["asc", "desc"]
THREAD_COLUMNS_UPDATABLE = frozenset(
    {
        "title",
        "status",
        "public",
        "owner_id",
        "metadata",
        "role_mapping",
        "archived_at",
        "expires_at",
    }
)
PURGE_BATCH = 500
"""Threads deleted per transaction when purging an owner: one huge owner never holds one
giant transaction."""
UNLOCKABLE_ASSISTANTS_MAX = 100


@dataclass(frozen=True, slots=True)
class KeysetPlan:
    """How to walk an index for one page: compare with ``op``, sort ``direction``, and
    whether the rows come back reversed relative to the order the client asked for."""

    op: Literal[">", "<"] | None
    direction: Literal["ASC", "DESC"]
    reverse: bool


def keyset_plan(order: Order, *, has_after: bool, has_before: bool) -> KeysetPlan:
    if has_before:
        # Walk backwards from the cursor, then flip the page into the requested order.
        return KeysetPlan("<" if order == "asc" else ">", "DESC" if order == "asc" else "ASC", True)
    op: Literal[">", "<"] | None = None
    if has_after:
        op = ">" if order == "asc" else "<"
    return KeysetPlan(op, "ASC" if order == "asc" else "DESC", False)


@dataclass(frozen=True, slots=True)
class PageSlice:
    rows: list[Row]
    has_more: bool


def slice_page(rows: list[Row], limit: int, plan: KeysetPlan) -> PageSlice:
    """Rows were fetched with ``LIMIT limit + 1`` in walking order."""
    has_more = len(rows) > limit
    rows = rows[:limit]
    if plan.reverse:
        rows.reverse()
    return PageSlice(rows, has_more)


@dataclass(frozen=True, slots=True)
class MessageQuery:
    limit: int
    order: Order = "asc"
    after_seq: int | None = None
    before_seq: int | None = None
    include_private: bool = False
    role: str | None = None


@dataclass(frozen=True, slots=True)
class ThreadQuery:
    limit: int
    status: Literal["active", "archived", "all"] = "active"
    owner_id: str | None = None
    title: str | None = None
    public: bool | None = None
    metadata: Sequence[tuple[str, str]] = ()
    q: str | None = None
    order_by: Literal["updated_at", "created_at"] = "updated_at"
    order: Order = "desc"
    after: tuple[str, str] | None = None
    before: tuple[str, str] | None = None


@dataclass(slots=True)
class IdempotencyRecord:
    request_hash: str
    status: Literal["pending", "done"]
    response_status: int | None = None
    response_body: bytes | None = None
    extra: dict[str, Any] = field(default_factory=dict)


MESSAGE_ID_TAKEN = "a message with one of these ids already exists in the thread"
MESSAGE_ID_CONSTRAINT = "uq_messages_thread_pk_id"


def new_thread_row(
    space_id: str,
    thread_id: str,
    thread: ThreadCreate,
    *,
    state_version: int,
    role_mapping: dict[str, Any],
    message_count: int,
    now: str,
    expires_at: str | None,
) -> Row:
    """The row of a thread just created, as every backend returns it (no read-back)."""
    return {
        "object": "thread",
        "id": thread_id,
        "space_id": space_id,
        "title": thread.title,
        "owner_id": thread.owner_id,
        "public": thread.public,
        "status": "active",
        "metadata": thread.metadata,
        "state": thread.state,
        "state_version": state_version,
        "role_mapping": role_mapping,
        "message_count": message_count,
        "created_at": now,
        "updated_at": now,
        "archived_at": None,
        "expires_at": expires_at,
    }


def expiry_of(now: datetime, ttl_seconds: int | None) -> datetime | None:
    """When a thread created or given a time to live at ``now`` expires."""
    return now + timedelta(seconds=ttl_seconds) if ttl_seconds is not None else None


def requested_expiry(now: datetime, thread: ThreadCreate) -> datetime | None:
    """When a thread created at ``now`` expires by its own ``expires_at`` or
    ``ttl_seconds``; None: the space's default applies."""
    if thread.expires_at is not None:
        return thread.expires_at
    return expiry_of(now, thread.ttl_seconds)


ASSISTANT_COLUMNS = (
    "space_id",
    "id",
    "name",
    "provider",
    "model",
    "system_prompt",
    "temperature",
    "max_tokens",
    "context_tokens",
    "private",
    "grants",
    "unlock_salt",
    "unlock_hash",
    "unlock_words",
    "metadata",
    "created_at",
    "updated_at",
)
ASSISTANT_COLUMNS_UPDATABLE = frozenset(ASSISTANT_COLUMNS) - {
    "space_id",
    "id",
    "created_at",
    "updated_at",
}


def new_assistant_row(space_id: str, fields: Row, now: str) -> Row:
    """The row of an assistant just created from ``fields``, as both backends return it."""
    return {
        "object": "assistant",
        "id": fields["id"],
        "space_id": space_id,
        "name": fields["name"],
        "provider": fields.get("provider"),
        "model": fields.get("model"),
        "system_prompt": fields.get("system_prompt"),
        "temperature": fields.get("temperature"),
        "max_tokens": fields.get("max_tokens"),
        "context_tokens": fields["context_tokens"],
        "private": bool(fields.get("private", False)),
        "grants": list(fields.get("grants", [])),
        "unlock_salt": fields.get("unlock_salt"),
        "unlock_hash": fields.get("unlock_hash"),
        "unlock_words": fields.get("unlock_words"),
        "metadata": fields.get("metadata", {}),
        "created_at": now,
        "updated_at": now,
    }


def state_row(thread_id: str, state: Any, version: int, updated_at: str | None) -> Row:
    """A thread's state as every backend returns it."""
    return {
        "object": "thread.state",
        "thread_id": thread_id,
        "state": state,
        "version": version,
        "updated_at": updated_at,
    }


ThreadMutation = Callable[[Row], Row]
"""Given the current thread row, return the columns to change (a subset of the updatable ones)."""

StateMutation = Callable[[Any, int], Any]
"""Given the current state and version, return the new state (or raise to refuse)."""

AssistantMutation = Callable[[Row], Row]
"""Given the current assistant row, return the columns to change (a subset of the updatable
ones), or raise to refuse."""


class Store(Protocol):
    """What the services need from a backend. Every method is atomic on its own.

    Assistants: rows carry every column, the unlock salt, hash and word count included (the
    service strips them from what it shows). ``create_assistant`` raises AlreadyExists for a
    taken id or name and NotFound for a missing space; ``list_assistants`` pages by id and,
    with ``include_private=False``, leaves out the private assistants whose grants do not
    name ``granted_to``; ``list_unlockable_assistants`` returns at most
    ``UNLOCKABLE_ASSISTANTS_MAX`` private assistants that have an unlock phrase.

    Retention: a thread whose ``expires_at`` has passed is missing for every method (get,
    list, append, state, update, purge) from that instant, whether or not its rows are gone
    yet. ``create_thread`` sets ``expires_at`` to ``thread.expires_at`` (the service checks
    it is in the future), or from ``thread.ttl_seconds``, or else from the space's
    ``default_thread_ttl_seconds``, counted from ``created_at``; an expired thread's id can
    be taken again at once. ``sweep_expired`` deletes at most ``limit`` expired
    threads (one transaction on SQL) and returns how many; ``purge_owner`` deletes every
    thread of one owner in a space, in transactions of ``PURGE_BATCH`` threads, and returns
    how many that had not expired yet it deleted.

    Leases: ``acquire_lease`` takes the named lease for ``seconds`` (or extends it when
    ``holder`` holds it already; an expired lease is taken over) and returns None, or returns
    the seconds left on another holder's lease. ``release_lease`` gives it up, only if
    ``holder`` still holds it.
    """

    backend: str

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def ping(self) -> None: ...

    # spaces
    async def create_space(
        self,
        space_id: str,
        name: str,
        metadata: dict[str, Any],
        default_thread_ttl_seconds: int | None = None,
    ) -> Row: ...
    async def get_space(self, space_id: str) -> Row | None: ...
    async def list_spaces(
        self, limit: int, after: str | None, before: str | None, only: str | None
    ) -> PageSlice: ...
    async def update_space(self, space_id: str, mutate: Callable[[Row], Row]) -> Row | None: ...
    async def delete_space(self, space_id: str, force: bool) -> bool: ...

    # threads
    async def create_thread(
        self,
        space_id: str,
        thread_id: str,
        thread: ThreadCreate,
        messages: Sequence[MessageCreate],
    ) -> tuple[Row, list[Row]]: ...
    async def get_thread(self, space_id: str, thread_id: str) -> Row | None: ...
    async def list_threads(self, space_id: str, query: ThreadQuery) -> PageSlice: ...
    async def update_thread(
        self, space_id: str, thread_id: str, mutate: ThreadMutation
    ) -> Row | None: ...
    async def purge_thread(self, space_id: str, thread_id: str) -> bool: ...
    async def purge_owner(self, space_id: str, owner_id: str) -> int: ...
    async def sweep_expired(self, limit: int) -> int: ...

    # messages
    async def append_messages(
        self, space_id: str, thread_id: str, messages: Sequence[MessageCreate]
    ) -> list[Row]: ...
    async def list_messages(
        self, space_id: str, thread_id: str, query: MessageQuery
    ) -> PageSlice | None: ...

    # state
    async def get_state(self, space_id: str, thread_id: str) -> Row | None: ...
    async def write_state(
        self, space_id: str, thread_id: str, mutate: StateMutation, keep_versions: int
    ) -> Row | None: ...
    async def list_state_versions(
        self,
        space_id: str,
        thread_id: str,
        limit: int,
        after_version: int | None,
        before_version: int | None,
    ) -> PageSlice | None: ...

    # API keys
    async def create_api_key(self, row: Row) -> Row: ...
    async def find_api_key(self, key_hash: str) -> Row | None: ...
    async def list_api_keys(self) -> list[Row]: ...
    async def revoke_api_key(self, key_id: str) -> bool: ...
    async def count_api_keys(self, include_revoked: bool = False) -> int: ...

    # assistants
    async def create_assistant(self, space_id: str, row: Row) -> Row: ...
    async def get_assistant(self, space_id: str, assistant_id: str) -> Row | None: ...
    async def list_assistants(
        self,
        space_id: str,
        limit: int,
        after: str | None,
        before: str | None,
        *,
        include_private: bool = True,
        granted_to: str | None = None,
    ) -> PageSlice: ...
    async def update_assistant(
        self, space_id: str, assistant_id: str, mutate: AssistantMutation
    ) -> Row | None: ...
    async def delete_assistant(self, space_id: str, assistant_id: str) -> bool: ...
    async def list_unlockable_assistants(self, space_id: str) -> list[Row]: ...

    # leases
    async def acquire_lease(self, name: str, holder: str, seconds: float) -> float | None: ...
    async def release_lease(self, name: str, holder: str) -> None: ...

    # idempotency
    # Records are written by the creates themselves, in their own transaction (see
    # ``store.idempotent``); these read one, and delete the old ones.
    async def idempotency_lookup(self, scope: str, key: str) -> IdempotencyRecord | None: ...
    async def idempotency_sweep(self, older_than_seconds: float) -> int: ...
