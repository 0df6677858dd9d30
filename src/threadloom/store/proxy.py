"""The base of the store wrappers (timing, group commit): every operation of the contract
goes to the store they wrap, written out so that mypy checks each one against ``Store``.
A wrapper overrides the few it changes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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
from .contract import Store
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

__all__ = ["StoreProxy"]


class StoreProxy(Store):
    """``Store`` by delegation to ``self._store``. Only the contract passes through: a
    backend's own attributes are reached on the store itself."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._store!r})"

    @property
    def backend(self) -> str:
        return self._store.backend

    # lifecycle ------------------------------------------------------------------------------

    async def open(self) -> None:
        await self._store.open()

    async def close(self) -> None:
        await self._store.close()

    async def ping(self) -> None:
        await self._store.ping()

    # spaces ---------------------------------------------------------------------------------

    async def create_space(
        self,
        space_id: str,
        name: str,
        metadata: dict[str, Any],
        default_thread_ttl_seconds: int | None = None,
    ) -> SpaceRow:
        return await self._store.create_space(space_id, name, metadata, default_thread_ttl_seconds)

    async def get_space(self, space_id: str) -> SpaceRow | None:
        return await self._store.get_space(space_id)

    async def list_spaces(
        self, limit: int, after: str | None, before: str | None, only: str | None
    ) -> PageSlice[SpaceRow]:
        return await self._store.list_spaces(limit, after, before, only)

    async def update_space(self, space_id: str, mutate: SpaceMutation) -> SpaceRow | None:
        return await self._store.update_space(space_id, mutate)

    async def delete_space(self, space_id: str, force: bool) -> bool:
        return await self._store.delete_space(space_id, force)

    # threads --------------------------------------------------------------------------------

    async def create_thread(
        self,
        space_id: str,
        thread_id: str,
        thread: ThreadCreate,
        messages: Sequence[MessageCreate],
    ) -> tuple[ThreadRow, list[MessageRow]]:
        return await self._store.create_thread(space_id, thread_id, thread, messages)

    async def get_thread(self, space_id: str, thread_id: str) -> ThreadRow | None:
        return await self._store.get_thread(space_id, thread_id)

    async def list_threads(self, space_id: str, query: ThreadQuery) -> PageSlice[ThreadRow]:
        return await self._store.list_threads(space_id, query)

    async def update_thread(
        self, space_id: str, thread_id: str, mutate: ThreadMutation
    ) -> ThreadRow | None:
        return await self._store.update_thread(space_id, thread_id, mutate)

    async def purge_thread(self, space_id: str, thread_id: str) -> bool:
        return await self._store.purge_thread(space_id, thread_id)

    async def purge_owner(self, space_id: str, owner_id: str) -> int:
        return await self._store.purge_owner(space_id, owner_id)

    async def sweep_expired(self, limit: int) -> int:
        return await self._store.sweep_expired(limit)

    # messages -------------------------------------------------------------------------------

    async def append_messages(
        self, space_id: str, thread_id: str, messages: Sequence[MessageCreate]
    ) -> list[MessageRow]:
        return await self._store.append_messages(space_id, thread_id, messages)

    async def list_messages(
        self, space_id: str, thread_id: str, query: MessageQuery
    ) -> PageSlice[MessageRow] | None:
        return await self._store.list_messages(space_id, thread_id, query)

    async def get_message(
        self, space_id: str, thread_id: str, message_id: str
    ) -> MessageRow | None:
        return await self._store.get_message(space_id, thread_id, message_id)

    async def delete_message(
        self, space_id: str, thread_id: str, message_id: str
    ) -> MessageRow | None:
        return await self._store.delete_message(space_id, thread_id, message_id)

    # state ----------------------------------------------------------------------------------

    async def get_state(self, space_id: str, thread_id: str) -> StateRow | None:
        return await self._store.get_state(space_id, thread_id)

    async def write_state(
        self, space_id: str, thread_id: str, mutate: StateMutation, keep_versions: int
    ) -> StateRow | None:
        return await self._store.write_state(space_id, thread_id, mutate, keep_versions)

    async def list_state_versions(
        self,
        space_id: str,
        thread_id: str,
        limit: int,
        after_version: int | None,
        before_version: int | None,
    ) -> PageSlice[StateVersionRow] | None:
        return await self._store.list_state_versions(
            space_id, thread_id, limit, after_version, before_version
        )

    # API keys and idempotency records -------------------------------------------------------

    async def create_api_key(self, key: NewApiKey) -> ApiKeyRow:
        return await self._store.create_api_key(key)

    async def find_api_key(self, key_hash: str) -> ApiKeyRow | None:
        return await self._store.find_api_key(key_hash)

    async def list_api_keys(self) -> list[ApiKeyRow]:
        return await self._store.list_api_keys()

    async def revoke_api_key(self, key_id: str) -> bool:
        return await self._store.revoke_api_key(key_id)

    async def count_api_keys(self, include_revoked: bool = False) -> int:
        return await self._store.count_api_keys(include_revoked)

    async def idempotency_lookup(self, scope: str, key: str) -> IdempotencyRecord | None:
        return await self._store.idempotency_lookup(scope, key)

    async def idempotency_sweep(self, older_than_seconds: float) -> int:
        return await self._store.idempotency_sweep(older_than_seconds)

    # assistants -----------------------------------------------------------------------------

    async def create_assistant(self, space_id: str, fields: AssistantFields) -> AssistantRow:
        return await self._store.create_assistant(space_id, fields)

    async def get_assistant(self, space_id: str, assistant_id: str) -> AssistantRow | None:
        return await self._store.get_assistant(space_id, assistant_id)

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
        return await self._store.list_assistants(
            space_id,
            limit,
            after,
            before,
            include_private=include_private,
            granted_to=granted_to,
        )

    async def update_assistant(
        self, space_id: str, assistant_id: str, mutate: AssistantMutation
    ) -> AssistantRow | None:
        return await self._store.update_assistant(space_id, assistant_id, mutate)

    async def delete_assistant(self, space_id: str, assistant_id: str) -> bool:
        return await self._store.delete_assistant(space_id, assistant_id)

    async def list_unlockable_assistants(self, space_id: str) -> list[AssistantRow]:
        return await self._store.list_unlockable_assistants(space_id)

    # leases ---------------------------------------------------------------------------------

    async def acquire_lease(self, name: str, holder: str, seconds: float) -> float | None:
        return await self._store.acquire_lease(name, holder, seconds)

    async def release_lease(self, name: str, holder: str) -> None:
        await self._store.release_lease(name, holder)
