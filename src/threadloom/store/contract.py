"""The store contract: what the services need from a backend, one protocol per resource.

Each protocol mirrors one mixin of the backends (``sqlite/spaces.py``, ``postgres/spaces.py``,
``redis/spaces.py``: ``SpaceStore``, and so on); ``Store`` is all of them. Every method is
atomic on its own. Rules live in the services; the store holds every query and keeps each
operation atomic: an append is one statement on PostgreSQL and one write transaction on
SQLite. A create made under an Idempotency-Key writes the key's record in that same unit (a
PostgreSQL transaction then), so the two commit together (see ``store.idempotent``).

Retention: a thread whose ``expires_at`` has passed is missing for every method (get, list,
append, state, update, purge) from that instant, whether or not its rows are gone yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from ..models import MessageCreate, ThreadCreate
from .base import (
    AssistantMutation,
    IdempotencyRecord,
    MessageQuery,
    PageSlice,
    SpaceMutation,
    StateMutation,
    ThreadMutation,
    ThreadQuery,
)
from .rows import (
    ApiKeyRow,
    AssistantFields,
    AssistantRow,
    MessageRow,
    NewApiKey,
    SpaceRow,
    StateRow,
    StateVersionRow,
    ThreadRow,
)

__all__ = [
    "AccessStore",
    "AssistantStore",
    "LeaseStore",
    "LifecycleStore",
    "MessageStore",
    "SpaceStore",
    "StateStore",
    "Store",
    "ThreadStore",
]


class LifecycleStore(Protocol):
    """The connection: the backend's name, and open, close, ping."""

    @property
    def backend(self) -> str:
        """``sqlite``, ``postgres`` or ``redis``."""
        ...

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def ping(self) -> None: ...


class SpaceStore(Protocol):
    async def create_space(
        self,
        space_id: str,
        name: str,
        metadata: dict[str, Any],
        default_thread_ttl_seconds: int | None = None,
    ) -> SpaceRow: ...
    async def get_space(self, space_id: str) -> SpaceRow | None: ...
    async def list_spaces(
        self, limit: int, after: str | None, before: str | None, only: str | None
    ) -> PageSlice[SpaceRow]: ...
    async def update_space(self, space_id: str, mutate: SpaceMutation) -> SpaceRow | None: ...
    async def delete_space(self, space_id: str, force: bool) -> bool: ...


class ThreadStore(Protocol):
    """``create_thread`` sets ``expires_at`` to ``thread.expires_at`` (the service checks it
    is in the future), or from ``thread.ttl_seconds``, or else from the space's
    ``default_thread_ttl_seconds``, counted from ``created_at``; an expired thread's id can
    be taken again at once. ``sweep_expired`` deletes at most ``limit`` expired threads (one
    transaction on SQL) and returns how many; ``purge_owner`` deletes every thread of one
    owner in a space, in transactions of ``PURGE_BATCH`` threads, and returns how many that
    had not expired yet it deleted."""

    async def create_thread(
        self,
        space_id: str,
        thread_id: str,
        thread: ThreadCreate,
        messages: Sequence[MessageCreate],
    ) -> tuple[ThreadRow, list[MessageRow]]: ...
    async def get_thread(self, space_id: str, thread_id: str) -> ThreadRow | None: ...
    async def list_threads(self, space_id: str, query: ThreadQuery) -> PageSlice[ThreadRow]: ...
    async def update_thread(
        self, space_id: str, thread_id: str, mutate: ThreadMutation
    ) -> ThreadRow | None: ...
    async def purge_thread(self, space_id: str, thread_id: str) -> bool: ...
    async def purge_owner(self, space_id: str, owner_id: str) -> int: ...
    async def sweep_expired(self, limit: int) -> int: ...


class MessageStore(Protocol):
    async def append_messages(
        self, space_id: str, thread_id: str, messages: Sequence[MessageCreate]
    ) -> list[MessageRow]: ...
    async def list_messages(
        self, space_id: str, thread_id: str, query: MessageQuery
    ) -> PageSlice[MessageRow] | None: ...
    async def get_message(
        self, space_id: str, thread_id: str, message_id: str
    ) -> MessageRow | None:
        """The message, or None when it (or its thread) does not exist."""
        ...

    async def delete_message(
        self, space_id: str, thread_id: str, message_id: str
    ) -> MessageRow | None:
        """Delete the message and count it off its thread (in one transaction); its seq is
        never given again. The deleted row, or None when the message does not exist;
        NotFound when the thread does not, ThreadArchived when it is archived."""
        ...


class StateStore(Protocol):
    async def get_state(self, space_id: str, thread_id: str) -> StateRow | None: ...
    async def write_state(
        self, space_id: str, thread_id: str, mutate: StateMutation, keep_versions: int
    ) -> StateRow | None: ...
    async def list_state_versions(
        self,
        space_id: str,
        thread_id: str,
        limit: int,
        after_version: int | None,
        before_version: int | None,
    ) -> PageSlice[StateVersionRow] | None: ...


class AccessStore(Protocol):
    """API keys, and the idempotency records. Records are written by the creates
    themselves, in their own transaction (see ``store.idempotent``); these read one, and
    delete the old ones."""

    async def create_api_key(self, key: NewApiKey) -> ApiKeyRow: ...
    async def find_api_key(self, key_hash: str) -> ApiKeyRow | None: ...
    async def list_api_keys(self) -> list[ApiKeyRow]: ...
    async def revoke_api_key(self, key_id: str) -> bool: ...
    async def count_api_keys(self, include_revoked: bool = False) -> int: ...
    async def idempotency_lookup(self, scope: str, key: str) -> IdempotencyRecord | None: ...
    async def idempotency_sweep(self, older_than_seconds: float) -> int: ...


class AssistantStore(Protocol):
    """``create_assistant`` raises AlreadyExists for a taken id or name and NotFound for a
    missing space; ``list_assistants`` pages by id and, with ``include_private=False``,
    leaves out the private assistants whose grants do not name ``granted_to``;
    ``list_unlockable_assistants`` returns at most ``UNLOCKABLE_ASSISTANTS_MAX`` private
    assistants that have an unlock phrase."""

    async def create_assistant(self, space_id: str, fields: AssistantFields) -> AssistantRow: ...
    async def get_assistant(self, space_id: str, assistant_id: str) -> AssistantRow | None: ...
    async def list_assistants(
        self,
        space_id: str,
        limit: int,
        after: str | None,
        before: str | None,
        *,
        include_private: bool = True,
        granted_to: str | None = None,
    ) -> PageSlice[AssistantRow]: ...
    async def update_assistant(
        self, space_id: str, assistant_id: str, mutate: AssistantMutation
    ) -> AssistantRow | None: ...
    async def delete_assistant(self, space_id: str, assistant_id: str) -> bool: ...
    async def list_unlockable_assistants(self, space_id: str) -> list[AssistantRow]: ...


class LeaseStore(Protocol):
    """``acquire_lease`` takes the named lease for ``seconds`` (or extends it when
    ``holder`` holds it already; an expired lease is taken over) and returns None, or
    returns the seconds left on another holder's lease. ``release_lease`` gives it up, only
    if ``holder`` still holds it."""

    async def acquire_lease(self, name: str, holder: str, seconds: float) -> float | None: ...
    async def release_lease(self, name: str, holder: str) -> None: ...


class Store(
    LifecycleStore,
    SpaceStore,
    ThreadStore,
    MessageStore,
    StateStore,
    AccessStore,
    AssistantStore,
    LeaseStore,
    Protocol,
):
    """The whole store, as the services use it."""
