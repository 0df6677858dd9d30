"""``Access`` to a database in this process, through the services the server runs.

``AsyncLocalAccess`` is the one implementation: each operation is a service call, its row
turned into the wire model a server would answer. It runs on the event loop the store was
opened in (``AsyncLocalAccess.open(url)`` opens one in the running loop).

``LocalAccess`` is its blocking form over ``threadloom.local``'s ``LocalStore``, which runs a
coroutine to its end (inline on SQLite, on the store's private loop on PostgreSQL). By default
it uses the process's shared store of its URL, looked up again after ``local.close_all()``;
``LocalAccess.open(url)`` opens a private one instead, closed with the access.

Every call is made as the open admin principal: whoever has the database URL has the data.
Importing this module pulls in the server's storage layer; ``threadloom.access.connect``
imports it only for a database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Coroutine, Generator, Sequence
from typing import Any, TypeVar

from .._client.streams import ChatEvent
from .._threadmem.schemas import V1Role
from ..config import Settings
from ..core.auth import OPEN_PRINCIPAL, Principal
from ..core.chat import ChatDelta
from ..core.services import Services
from ..local import LocalStore, default_url, in_thread, store_for
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
from ..store import create_store
from ..store.migrate import migrate
from ..store.rows import MessageRow
from .base import Access, AsyncAccess, KeyRole
from .local_chat import LocalReply, ReplyLoop

__all__ = ["AsyncLocalAccess", "LocalAccess"]

T = TypeVar("T")


def _message(row: MessageRow) -> Message:
    """The wire model of a row the store has just written (from validated input, in the
    model's own shape): built without validating it again, as the append path is hot,
    unless it has tool calls (nested models, which construction would leave as dicts)."""
    if "tool_calls" in row:
        return Message.model_validate(row)
    return Message.model_construct(**row)  # type: ignore[arg-type]


def _etag(version: int | None) -> str | None:
    return None if version is None else f'"{version}"'


class AsyncLocalAccess(AsyncAccess):
    """The services of an open store, on the loop the store runs on."""

    def __init__(
        self, services: Services, *, where: str = "", principal: Principal = OPEN_PRINCIPAL
    ) -> None:
        self.services = services
        self.principal = principal
        self.where = where or services.settings.database_url
        self.remote = None
        self.batch_size = services.settings.limits.batch_messages
        self._owned = False

    @classmethod
    async def open(cls, url: str | None = None) -> AsyncLocalAccess:
        """The database at ``url`` (default: the configured one), migrated and opened in the
        running loop, and closed with this access."""
        url = url or default_url()
        settings = Settings(database_url=url)
        in_thread(migrate, url)  # Alembic runs its own loop: never inside this one
        store = create_store(settings)
        await store.open()
        access = cls(Services.build(store, settings), where=url)
        access._owned = True
        return access

    async def aclose(self) -> None:
        if self._owned:
            self._owned = False
            try:
                await self.services.chat.aclose()
            finally:
                await self.services.store.close()

    async def list_spaces(self, query: PageQuery) -> Page[Space]:
        page = await self.services.spaces.list_spaces(self.principal, query)
        return Page[Space].model_validate(page)

    async def create_space(self, body: SpaceCreate) -> Space:
        return Space.model_validate(await self.services.spaces.create(self.principal, body))

    async def delete_space(self, space: str, *, force: bool) -> None:
        await self.services.spaces.delete(self.principal, space, force)

    async def list_threads(self, space: str, query: ThreadListQuery) -> Page[Thread]:
        page = await self.services.threads.list_threads(self.principal, space, query)
        return Page[Thread].model_validate(page)

    async def get_thread(self, space: str, thread: str) -> Thread:
        return Thread.model_validate(await self.services.threads.get(self.principal, space, thread))

    async def create_thread(self, space: str, body: ThreadCreate) -> Thread:
        row, _ = await self.services.threads.create(self.principal, space, body)
        return Thread.model_validate(row)

    async def update_thread(self, space: str, thread: str, changes: ThreadUpdate) -> Thread:
        row = await self.services.threads.update(self.principal, space, thread, changes)
        return Thread.model_validate(row)

    async def set_archived(self, space: str, thread: str, archived: bool) -> Thread:
        row = await self.services.threads.set_status(self.principal, space, thread, archived)
        return Thread.model_validate(row)

    async def purge_thread(self, space: str, thread: str) -> None:
        await self.services.threads.purge(self.principal, space, thread)

    async def list_messages(
        self, space: str, thread: str, query: MessageListQuery
    ) -> Page[Message]:
        page = await self.services.threads.list_messages(self.principal, space, thread, query)
        return Page[Message].model_validate(page)

    async def append_messages(
        self, space: str, thread: str, messages: Sequence[MessageCreate]
    ) -> list[Message]:
        rows = await self.services.threads.append(self.principal, space, thread, messages)
        return [_message(row) for row in rows]

    async def get_message(self, space: str, thread: str, message: str) -> Message:
        row = await self.services.threads.get_message(self.principal, space, thread, message)
        return Message.model_validate(row)

    async def delete_message(self, space: str, thread: str, message: str) -> None:
        await self.services.threads.delete_message(self.principal, space, thread, message)

    async def get_state(self, space: str, thread: str) -> State:
        return State.model_validate(await self.services.state.get(self.principal, space, thread))

    async def put_state(self, space: str, thread: str, state: Any, if_match: int | None) -> State:
        service = self.services.state
        row = await service.put(self.principal, space, thread, state, _etag(if_match))
        return State.model_validate(row)

    async def patch_state(self, space: str, thread: str, patch: Any, if_match: int | None) -> State:
        service = self.services.state
        row = await service.patch(self.principal, space, thread, patch, _etag(if_match))
        return State.model_validate(row)

    async def add_role(self, thread: str, role: V1Role) -> None:
        await self.services.rolethreads.add_role(self.principal, "default", thread, role)

    async def remove_role(self, thread: str, name: str) -> None:
        await self.services.rolethreads.remove_role(self.principal, "default", thread, name)

    async def create_key(self, role: KeyRole, space: str | None, name: str | None) -> ApiKeyCreated:
        secret, row = await self.services.keys.create(role, space, name)
        return ApiKeyCreated.model_validate({**row, "key": secret})

    async def list_keys(self) -> list[ApiKey]:
        return [ApiKey.model_validate(row) for row in await self.services.keys.list_keys()]

    async def revoke_key(self, key_id: str) -> None:
        await self.services.keys.revoke(key_id)

    async def list_assistants(self, space: str, query: PageQuery) -> Page[Assistant]:
        page = await self.services.assistants.list_assistants(self.principal, space, query)
        return Page[Assistant].model_validate(page)

    async def chat(
        self, space: str, thread: str, content: str, assistant: str | None
    ) -> AsyncIterator[ChatEvent]:
        run = await self.services.chat.start(
            self.principal, space, thread, content, assistant=assistant
        )
        finished = False
        try:
            yield ChatEvent("start", message=Message.model_validate(run.user_message))
            async for event in run.events():
                if isinstance(event, ChatDelta):
                    yield ChatEvent("delta", text=event.text)
                else:
                    finished = True
                    yield ChatEvent("done", message=Message.model_validate(event.message))
        finally:
            if not finished:  # left early: stop the model, wait until what it wrote is kept
                run.abandon()
                try:
                    await run.result()
                except Exception:  # noqa: BLE001 - the reader has gone; the run ended
                    pass


class LocalAccess(Access):
    """``AsyncLocalAccess``, blocking, on a ``LocalStore``."""

    def __init__(self, url: str | None = None) -> None:
        """The process's shared store of ``url`` (default: the configured database)."""
        self.url = url or default_url()
        self.where = self.url
        self.remote = None
        self._private: LocalStore | None = None
        self._ops: tuple[LocalStore, AsyncLocalAccess] | None = None
        self._chat: ReplyLoop | None = None

    @classmethod
    def open(cls, url: str | None = None) -> LocalAccess:
        """A store of its own on ``url``, opened now and closed with this access."""
        access = cls(url)
        access._private = LocalStore(access.url)
        return access

    def __getstate__(self) -> dict[str, Any]:
        """Copies and pickles keep the URL only, and use the shared store."""
        return {"url": self.url, "where": self.url, "remote": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["url"])  # type: ignore[misc]

    @property
    def store(self) -> LocalStore:
        """The open store: the private one, or the shared one (opened again once closed)."""
        if self._private is not None:
            return self._private
        ops = self._ops
        if ops is None or ops[0].closed:
            return store_for(self.url)
        return ops[0]

    @property
    def services(self) -> Services:
        return self.store.services

    @property
    def principal(self) -> Principal:
        return OPEN_PRINCIPAL

    @property
    def batch_size(self) -> int:  # type: ignore[override]
        return self.services.settings.limits.batch_messages

    def _async(self) -> AsyncLocalAccess:
        store = self.store
        ops = self._ops
        if ops is None or ops[0] is not store:
            ops = self._ops = (store, AsyncLocalAccess(store.services, where=self.url))
        return ops[1]

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.store.run(coroutine)

    def close(self) -> None:
        try:
            if self._chat is not None:
                self._chat.close(self.store)
                self._chat = None
        finally:
            if self._private is not None:
                self._private.close()

    def list_spaces(self, query: PageQuery) -> Page[Space]:
        return self._run(self._async().list_spaces(query))

    def create_space(self, body: SpaceCreate) -> Space:
        return self._run(self._async().create_space(body))

    def delete_space(self, space: str, *, force: bool) -> None:
        self._run(self._async().delete_space(space, force=force))

    def list_threads(self, space: str, query: ThreadListQuery) -> Page[Thread]:
        return self._run(self._async().list_threads(space, query))

    def get_thread(self, space: str, thread: str) -> Thread:
        return self._run(self._async().get_thread(space, thread))

    def create_thread(self, space: str, body: ThreadCreate) -> Thread:
        return self._run(self._async().create_thread(space, body))

    def update_thread(self, space: str, thread: str, changes: ThreadUpdate) -> Thread:
        return self._run(self._async().update_thread(space, thread, changes))

    def set_archived(self, space: str, thread: str, archived: bool) -> Thread:
        return self._run(self._async().set_archived(space, thread, archived))

    def purge_thread(self, space: str, thread: str) -> None:
        self._run(self._async().purge_thread(space, thread))

    def list_messages(self, space: str, thread: str, query: MessageListQuery) -> Page[Message]:
        return self._run(self._async().list_messages(space, thread, query))

    def append_messages(
        self, space: str, thread: str, messages: Sequence[MessageCreate]
    ) -> list[Message]:
        return self._run(self._async().append_messages(space, thread, messages))

    def get_message(self, space: str, thread: str, message: str) -> Message:
        return self._run(self._async().get_message(space, thread, message))

    def delete_message(self, space: str, thread: str, message: str) -> None:
        self._run(self._async().delete_message(space, thread, message))

    def get_state(self, space: str, thread: str) -> State:
        return self._run(self._async().get_state(space, thread))

    def put_state(self, space: str, thread: str, state: Any, if_match: int | None) -> State:
        return self._run(self._async().put_state(space, thread, state, if_match))

    def patch_state(self, space: str, thread: str, patch: Any, if_match: int | None) -> State:
        return self._run(self._async().patch_state(space, thread, patch, if_match))

    def add_role(self, thread: str, role: V1Role) -> None:
        self._run(self._async().add_role(thread, role))

    def remove_role(self, thread: str, name: str) -> None:
        self._run(self._async().remove_role(thread, name))

    def create_key(self, role: KeyRole, space: str | None, name: str | None) -> ApiKeyCreated:
        return self._run(self._async().create_key(role, space, name))

    def list_keys(self) -> list[ApiKey]:
        return self._run(self._async().list_keys())

    def revoke_key(self, key_id: str) -> None:
        self._run(self._async().revoke_key(key_id))

    def list_assistants(self, space: str, query: PageQuery) -> Page[Assistant]:
        return self._run(self._async().list_assistants(space, query))

    def chat(
        self, space: str, thread: str, content: str, assistant: str | None
    ) -> Generator[ChatEvent, None, None]:
        if self._chat is None:
            self._chat = ReplyLoop(self.store)
        reply = self._async().chat(space, thread, content, assistant)
        return LocalReply(self._chat, reply).events()
