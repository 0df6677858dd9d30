"""What the store contract speaks in (queries, pages, mutations) and the small helpers the
backends share. The contract itself is ``store.contract``; the rows are ``store.rows``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, Literal, TypeVar

from ..models import ThreadCreate
from ..timestamps import format_ts, now_ts, parse_ts, utc_now
from .rows import AssistantChanges, AssistantRow, SpaceChanges, SpaceRow, ThreadChanges, ThreadRow

__all__ = [
    "ASSISTANT_COLUMNS",
    "ASSISTANT_COLUMNS_UPDATABLE",
    "THREAD_COLUMNS_UPDATABLE",
    "AssistantMutation",
    "IdempotencyRecord",
    "KeysetPlan",
    "MessageQuery",
    "Order",
    "PageSlice",
    "Row",
    "SpaceMutation",
    "StateMutation",
    "ThreadMutation",
    "ThreadQuery",
    "expiry_of",
    "keyset_plan",
    "requested_expiry",
    "slice_page",
    # moved to ``threadloom.timestamps``; importable from here until the CLI and its tests,
    # changed in parallel, import them from there
    "format_ts",
    "now_ts",
    "parse_ts",
    "utc_now",
]

Row = dict[str, Any]
"""A row of no particular kind (for tests); the store's rows are typed in ``store.rows``."""
RowT = TypeVar("RowT")
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
class PageSlice(Generic[RowT]):
    rows: list[RowT]
    has_more: bool


def slice_page(rows: list[RowT], limit: int, plan: KeysetPlan) -> PageSlice[RowT]:
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


SpaceMutation = Callable[[SpaceRow], SpaceChanges]
"""Given the current space row, return the columns to change."""

ThreadMutation = Callable[[ThreadRow], ThreadChanges]
"""Given the current thread row, return the columns to change (a subset of the updatable ones)."""

StateMutation = Callable[[Any, int], Any]
"""Given the current state and version, return the new state (or raise to refuse)."""

AssistantMutation = Callable[[AssistantRow], AssistantChanges]
"""Given the current assistant row, return the columns to change (a subset of the updatable
ones), or raise to refuse."""
