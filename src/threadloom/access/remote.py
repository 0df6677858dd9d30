"""``Access`` to a threadloom server: ``RemoteAccess`` through the blocking ``Client`` (with its
retries and Idempotency-Keys), ``AsyncRemoteAccess`` through ``AsyncClient``. A model given to
an operation is sent as the fields it was given, and a query as the parameters it was given,
so the server applies its own defaults, as it does for any client. The arguments of each call
are built once, by the functions below, for both classes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Sequence
from typing import TYPE_CHECKING, Any

from .._threadmem.schemas import V1Role
from ..models import (
    ApiKey,
    ApiKeyCreated,
    Assistant,
    Message,
    MessageCreate,
    MessageListQuery,
    Page,
    PageQuery,
    Space,
    SpaceCreate,
    State,
    Thread,
    ThreadCreate,
    ThreadListQuery,
    ThreadUpdate,
)
from .base import Access, AsyncAccess, KeyRole

if TYPE_CHECKING:
    from .._client.streams import ChatEvent
    from ..client import AsyncClient, Client

__all__ = ["AsyncRemoteAccess", "RemoteAccess"]


def given_fields(body: SpaceCreate | ThreadCreate | ThreadUpdate) -> dict[str, Any]:
    """The fields a request model was given (JSON-ready), for the client's keywords."""
    fields: dict[str, Any] = body.model_dump(exclude_unset=True, mode="json")
    return fields


def thread_filters(query: ThreadListQuery) -> dict[str, Any]:
    """``threads.list``'s keywords for ``query``."""
    fields: dict[str, Any] = query.model_dump(
        exclude_unset=True, exclude_none=True, exclude={"metadata"}
    )
    if query.metadata:
        fields["metadata"] = dict(query.metadata)
    return fields


def message_filters(query: MessageListQuery) -> dict[str, Any]:
    """``messages.list``'s keywords for ``query``."""
    fields: dict[str, Any] = query.model_dump(exclude_unset=True, exclude_none=True)
    return fields


def page_filters(query: PageQuery) -> dict[str, Any]:
    fields: dict[str, Any] = query.model_dump(exclude_unset=True, exclude_none=True)
    return fields


class RemoteAccess(Access):
    """A threadloom server, through ``Client``."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.where = self.remote = client.base_url

    @classmethod
    def open(cls, url: str, api_key: str | None, *, timeout: float = 60) -> RemoteAccess:
        """A new ``Client`` of ``url``, closed with this access."""
        from ..client import Client

        return cls(Client(url, api_key or None, timeout=timeout))

    def close(self) -> None:
        self.client.close()

    def list_spaces(self, query: PageQuery) -> Page[Space]:
        return self.client.spaces.list(**page_filters(query))

    def create_space(self, body: SpaceCreate) -> Space:
        return self.client.spaces.create(**given_fields(body))

    def delete_space(self, space: str, *, force: bool) -> None:
        self.client.spaces.delete(space, force=force)

    def list_threads(self, space: str, query: ThreadListQuery) -> Page[Thread]:
        return self.client.threads.list(space, **thread_filters(query))

    def get_thread(self, space: str, thread: str) -> Thread:
        return self.client.threads.get(space, thread)

    def create_thread(self, space: str, body: ThreadCreate) -> Thread:
        return self.client.threads.create(space, **given_fields(body))

    def update_thread(self, space: str, thread: str, changes: ThreadUpdate) -> Thread:
        return self.client.threads.update(space, thread, **given_fields(changes))

    def set_archived(self, space: str, thread: str, archived: bool) -> Thread:
        if archived:
            return self.client.threads.archive(space, thread)
        return self.client.threads.restore(space, thread)

    def purge_thread(self, space: str, thread: str) -> None:
        self.client.threads.purge(space, thread)

    def list_messages(self, space: str, thread: str, query: MessageListQuery) -> Page[Message]:
        return self.client.messages.list(space, thread, **message_filters(query))

    def append_messages(
        self, space: str, thread: str, messages: Sequence[MessageCreate]
    ) -> list[Message]:
        # The batch endpoint keeps client-chosen message ids (messages.create does not).
        return self.client.messages.create_batch(space, thread, messages)

    def get_message(self, space: str, thread: str, message: str) -> Message:
        return self.client.messages.get(space, thread, message)

    def delete_message(self, space: str, thread: str, message: str) -> None:
        self.client.messages.delete(space, thread, message)

    def get_state(self, space: str, thread: str) -> State:
        return self.client.state.get(space, thread)

    def put_state(self, space: str, thread: str, state: Any, if_match: int | None) -> State:
        return self.client.state.put(space, thread, state, if_match=if_match)

    def patch_state(self, space: str, thread: str, patch: Any, if_match: int | None) -> State:
        return self.client.state.patch(space, thread, patch, if_match=if_match)

    def add_role(self, thread: str, role: V1Role) -> None:
        self.client.rolethreads.add_role(thread, role)

    def remove_role(self, thread: str, name: str) -> None:
        self.client.rolethreads.remove_role(thread, name)

    def create_key(self, role: KeyRole, space: str | None, name: str | None) -> ApiKeyCreated:
        return self.client.keys.create(role=role, space=space, name=name)

    def list_keys(self) -> list[ApiKey]:
        return self.client.keys.list()

    def revoke_key(self, key_id: str) -> None:
        self.client.keys.revoke(key_id)

    def list_assistants(self, space: str, query: PageQuery) -> Page[Assistant]:
        return self.client.assistants.list(space, **page_filters(query))

    def chat(
        self, space: str, thread: str, content: str, assistant: str | None
    ) -> Generator[ChatEvent, None, None]:
        # Closing this generator closes the stream's, which closes the connection.
        yield from self.client.chat.stream(space, thread, content, assistant=assistant)


class AsyncRemoteAccess(AsyncAccess):
    """A threadloom server, through ``AsyncClient``."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.where = self.remote = client.base_url

    @classmethod
    def open(cls, url: str, api_key: str | None, *, timeout: float = 60) -> AsyncRemoteAccess:
        """A new ``AsyncClient`` of ``url``, closed with this access."""
        from ..client import AsyncClient

        return cls(AsyncClient(url, api_key or None, timeout=timeout))

    async def aclose(self) -> None:
        await self.client.aclose()

    async def list_spaces(self, query: PageQuery) -> Page[Space]:
        return await self.client.spaces.list(**page_filters(query))

    async def create_space(self, body: SpaceCreate) -> Space:
        return await self.client.spaces.create(**given_fields(body))

    async def delete_space(self, space: str, *, force: bool) -> None:
        await self.client.spaces.delete(space, force=force)

    async def list_threads(self, space: str, query: ThreadListQuery) -> Page[Thread]:
        return await self.client.threads.list(space, **thread_filters(query))

    async def get_thread(self, space: str, thread: str) -> Thread:
        return await self.client.threads.get(space, thread)

    async def create_thread(self, space: str, body: ThreadCreate) -> Thread:
        return await self.client.threads.create(space, **given_fields(body))

    async def update_thread(self, space: str, thread: str, changes: ThreadUpdate) -> Thread:
        return await self.client.threads.update(space, thread, **given_fields(changes))

    async def set_archived(self, space: str, thread: str, archived: bool) -> Thread:
        if archived:
            return await self.client.threads.archive(space, thread)
        return await self.client.threads.restore(space, thread)

    async def purge_thread(self, space: str, thread: str) -> None:
        await self.client.threads.purge(space, thread)

    async def list_messages(
        self, space: str, thread: str, query: MessageListQuery
    ) -> Page[Message]:
        return await self.client.messages.list(space, thread, **message_filters(query))

    async def append_messages(
        self, space: str, thread: str, messages: Sequence[MessageCreate]
    ) -> list[Message]:
        return await self.client.messages.create_batch(space, thread, messages)

    async def get_message(self, space: str, thread: str, message: str) -> Message:
        return await self.client.messages.get(space, thread, message)

    async def delete_message(self, space: str, thread: str, message: str) -> None:
        await self.client.messages.delete(space, thread, message)

    async def get_state(self, space: str, thread: str) -> State:
        return await self.client.state.get(space, thread)

    async def put_state(self, space: str, thread: str, state: Any, if_match: int | None) -> State:
        return await self.client.state.put(space, thread, state, if_match=if_match)

    async def patch_state(self, space: str, thread: str, patch: Any, if_match: int | None) -> State:
        return await self.client.state.patch(space, thread, patch, if_match=if_match)

    async def add_role(self, thread: str, role: V1Role) -> None:
        await self.client.rolethreads.add_role(thread, role)

    async def remove_role(self, thread: str, name: str) -> None:
        await self.client.rolethreads.remove_role(thread, name)

    async def create_key(self, role: KeyRole, space: str | None, name: str | None) -> ApiKeyCreated:
        return await self.client.keys.create(role=role, space=space, name=name)

    async def list_keys(self) -> list[ApiKey]:
        return await self.client.keys.list()

    async def revoke_key(self, key_id: str) -> None:
        await self.client.keys.revoke(key_id)

    async def list_assistants(self, space: str, query: PageQuery) -> Page[Assistant]:
        return await self.client.assistants.list(space, **page_filters(query))

    def chat(
        self, space: str, thread: str, content: str, assistant: str | None
    ) -> AsyncIterator[ChatEvent]:
        return self.client.chat.stream(space, thread, content, assistant=assistant)
