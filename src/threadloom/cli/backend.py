"""Where a command's data lives: a threadloom server, or the database itself.

``Backend`` is the few operations the commands need, on the wire models of
``threadloom.models``. ``RemoteBackend`` sends them to a server through ``threadloom.Client``;
``LocalBackend`` calls the services in process on the database (``threadloom.local``, the
same code the server runs, as the open admin principal: whoever has the database URL has the
data). ``connect`` picks one from the connection options, so each command is written once.
Lists come a page at a time; ``pages`` walks them all. A chat reply comes as the client's
``ChatEvent``s either way: locally the reply runs on an event loop in a thread of its own
(the store's loop, when it has one), and the command reads it from a queue.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal, TypeVar

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
)

if TYPE_CHECKING:
    from .._client.streams import ChatEvent
    from ..client import Client
    from ..core.chat import ChatRun
    from ..local import LocalStore

__all__ = ["Backend", "LocalBackend", "RemoteBackend", "connect", "pages"]

T = TypeVar("T")
KeyRole = Literal["admin", "writer", "reader"]


def pages(fetch: Callable[[str | None], Page[T]], after: str | None = None) -> Iterator[T]:
    """Every item of a list from a cursor on (None: from the start), a page at a time:
    ``fetch(after)`` reads the page after a cursor."""
    while True:
        page = fetch(after)
        yield from page.data
        if not page.has_more or page.last_id is None:
            return
        after = page.last_id


class Backend(ABC):
    """The operations of the command line, on a server or on the database."""

    where: str
    """What the commands talk to, for messages: a URL."""
    batch_size: int = 100
    """The most messages ``append_messages`` takes at once."""

    @abstractmethod
    def close(self) -> None: ...

    # spaces
    @abstractmethod
    def list_spaces(self, query: PageQuery) -> Page[Space]: ...
    @abstractmethod
    def create_space(self, body: SpaceCreate) -> Space: ...
    @abstractmethod
    def delete_space(self, space: str, *, force: bool) -> None: ...

    # threads
    @abstractmethod
    def list_threads(self, space: str, query: ThreadListQuery) -> Page[Thread]: ...
    @abstractmethod
    def get_thread(self, space: str, thread: str) -> Thread: ...
    @abstractmethod
    def create_thread(self, space: str, body: ThreadCreate) -> Thread: ...
    @abstractmethod
    def set_archived(self, space: str, thread: str, archived: bool) -> Thread: ...
    @abstractmethod
    def purge_thread(self, space: str, thread: str) -> None: ...

    # messages
    @abstractmethod
    def list_messages(self, space: str, thread: str, query: MessageListQuery) -> Page[Message]: ...
    @abstractmethod
    def append_messages(
        self, space: str, thread: str, messages: Sequence[MessageCreate]
    ) -> list[Message]: ...

    # state
    @abstractmethod
    def get_state(self, space: str, thread: str) -> State: ...
    @abstractmethod
    def put_state(self, space: str, thread: str, state: Any, if_match: int | None) -> State: ...
    @abstractmethod
    def patch_state(self, space: str, thread: str, patch: Any, if_match: int | None) -> State: ...

    # API keys
    @abstractmethod
    def create_key(self, role: KeyRole, space: str | None, name: str | None) -> ApiKeyCreated: ...
    @abstractmethod
    def list_keys(self) -> list[ApiKey]: ...
    @abstractmethod
    def revoke_key(self, key_id: str) -> None: ...

    # chat
    @abstractmethod
    def list_assistants(self, space: str, query: PageQuery) -> Page[Assistant]: ...
    @abstractmethod
    def chat(
        self, space: str, thread: str, content: str, assistant: str | None
    ) -> Generator[ChatEvent, None, None]:
        """The reply to ``content`` as it is written: ``start``, ``delta``s, then ``done``
        (the stored reply); raises the provider's error. Closing the iterator early stops
        the model, and what it wrote is kept, marked incomplete."""


class RemoteBackend(Backend):
    """A threadloom server, through the blocking client (with its retries)."""

    def __init__(self, url: str, api_key: str | None) -> None:
        from ..client import Client

        self.client: Client = Client(url, api_key or None, timeout=60)
        self.where = self.client.base_url

    def close(self) -> None:
        self.client.close()

    def list_spaces(self, query: PageQuery) -> Page[Space]:
        return self.client.spaces.list(limit=query.limit, after=query.after)

    def create_space(self, body: SpaceCreate) -> Space:
        return self.client.spaces.create(id=body.id, name=body.name, metadata=body.metadata)

    def delete_space(self, space: str, *, force: bool) -> None:
        self.client.spaces.delete(space, force=force)

    def list_threads(self, space: str, query: ThreadListQuery) -> Page[Thread]:
        return self.client.threads.list(
            space,
            status=query.status,
            owner_id=query.owner_id,
            title=query.title,
            public=query.public,
            metadata=dict(query.metadata) or None,
            q=query.q,
            order_by=query.order_by,
            order=query.order,
            limit=query.limit,
            after=query.after,
        )

    def get_thread(self, space: str, thread: str) -> Thread:
        return self.client.threads.get(space, thread)

    def create_thread(self, space: str, body: ThreadCreate) -> Thread:
        return self.client.threads.create(
            space,
            id=body.id,
            title=body.title,
            owner_id=body.owner_id,
            public=body.public,
            metadata=body.metadata,
            state=body.state,
            role_mapping=body.role_mapping,
            ttl_seconds=body.ttl_seconds,
            expires_at=body.expires_at,
        )

    def set_archived(self, space: str, thread: str, archived: bool) -> Thread:
        if archived:
            return self.client.threads.archive(space, thread)
        return self.client.threads.restore(space, thread)

    def purge_thread(self, space: str, thread: str) -> None:
        self.client.threads.purge(space, thread)

    def list_messages(self, space: str, thread: str, query: MessageListQuery) -> Page[Message]:
        return self.client.messages.list(
            space,
            thread,
            order=query.order,
            limit=query.limit,
            after=query.after,
            include_private=query.include_private,
            role=query.role,
        )

    def append_messages(
        self, space: str, thread: str, messages: Sequence[MessageCreate]
    ) -> list[Message]:
        # The batch endpoint keeps client-chosen message ids.
        return self.client.messages.create_batch(space, thread, messages)

    def get_state(self, space: str, thread: str) -> State:
        return self.client.state.get(space, thread)

    def put_state(self, space: str, thread: str, state: Any, if_match: int | None) -> State:
        return self.client.state.put(space, thread, state, if_match=if_match)

    def patch_state(self, space: str, thread: str, patch: Any, if_match: int | None) -> State:
        return self.client.state.patch(space, thread, patch, if_match=if_match)

    def create_key(self, role: KeyRole, space: str | None, name: str | None) -> ApiKeyCreated:
        return self.client.keys.create(role=role, space=space, name=name)

    def list_keys(self) -> list[ApiKey]:
        return self.client.keys.list()

    def revoke_key(self, key_id: str) -> None:
        self.client.keys.revoke(key_id)

    def list_assistants(self, space: str, query: PageQuery) -> Page[Assistant]:
        return self.client.assistants.list(space, limit=query.limit, after=query.after)

    def chat(
        self, space: str, thread: str, content: str, assistant: str | None
    ) -> Generator[ChatEvent, None, None]:
        # Closing this generator closes the stream's, which closes the connection.
        yield from self.client.chat.stream(space, thread, content, assistant=assistant)


class LocalBackend(Backend):
    """The database at ``url``, through the services in this process."""

    def __init__(self, url: str | None) -> None:
        from ..local import LocalStore, default_url

        self.local: LocalStore = LocalStore(url or default_url())
        self.where = self.local.url
        self.services = self.local.services
        self.principal = self.local.principal
        self.batch_size = self.services.settings.limits.batch_messages
        self._chat_loop: asyncio.AbstractEventLoop | None = None
        self._chat_thread: threading.Thread | None = None

    def close(self) -> None:
        try:
            loop = self._chat_loop
            if loop is not None:  # let a reply still running settle, close the providers
                asyncio.run_coroutine_threadsafe(self.services.chat.aclose(), loop).result()
            if self._chat_thread is not None and loop is not None:
                loop.call_soon_threadsafe(loop.stop)
                self._chat_thread.join()
                loop.close()
        finally:
            self.local.close()

    def list_spaces(self, query: PageQuery) -> Page[Space]:
        page = self.local.run(self.services.spaces.list_spaces(self.principal, query))
        return Page[Space].model_validate(page)

    def create_space(self, body: SpaceCreate) -> Space:
        row = self.local.run(self.services.spaces.create(self.principal, body))
        return Space.model_validate(row)

    def delete_space(self, space: str, *, force: bool) -> None:
        self.local.run(self.services.spaces.delete(self.principal, space, force))

    def list_threads(self, space: str, query: ThreadListQuery) -> Page[Thread]:
        threads = self.services.threads
        page = self.local.run(threads.list_threads(self.principal, space, query))
        return Page[Thread].model_validate(page)

    def get_thread(self, space: str, thread: str) -> Thread:
        row = self.local.run(self.services.threads.get(self.principal, space, thread))
        return Thread.model_validate(row)

    def create_thread(self, space: str, body: ThreadCreate) -> Thread:
        row, _ = self.local.run(self.services.threads.create(self.principal, space, body))
        return Thread.model_validate(row)

    def set_archived(self, space: str, thread: str, archived: bool) -> Thread:
        threads = self.services.threads
        row = self.local.run(threads.set_status(self.principal, space, thread, archived))
        return Thread.model_validate(row)

    def purge_thread(self, space: str, thread: str) -> None:
        self.local.run(self.services.threads.purge(self.principal, space, thread))

    def list_messages(self, space: str, thread: str, query: MessageListQuery) -> Page[Message]:
        threads = self.services.threads
        page = self.local.run(threads.list_messages(self.principal, space, thread, query))
        return Page[Message].model_validate(page)

    def append_messages(
        self, space: str, thread: str, messages: Sequence[MessageCreate]
    ) -> list[Message]:
        rows = self.local.run(self.services.threads.append(self.principal, space, thread, messages))
        return [Message.model_validate(row) for row in rows]

    def get_state(self, space: str, thread: str) -> State:
        row = self.local.run(self.services.state.get(self.principal, space, thread))
        return State.model_validate(row)

    def put_state(self, space: str, thread: str, state: Any, if_match: int | None) -> State:
        service = self.services.state
        etag = None if if_match is None else f'"{if_match}"'
        row = self.local.run(service.put(self.principal, space, thread, state, etag))
        return State.model_validate(row)

    def patch_state(self, space: str, thread: str, patch: Any, if_match: int | None) -> State:
        service = self.services.state
        etag = None if if_match is None else f'"{if_match}"'
        row = self.local.run(service.patch(self.principal, space, thread, patch, etag))
        return State.model_validate(row)

    def create_key(self, role: KeyRole, space: str | None, name: str | None) -> ApiKeyCreated:
        secret, row = self.local.run(self.services.keys.create(role, space, name))
        return ApiKeyCreated.model_validate({**row, "key": secret})

    def list_keys(self) -> list[ApiKey]:
        rows = self.local.run(self.services.keys.list_keys())
        return [ApiKey.model_validate(row) for row in rows]

    def revoke_key(self, key_id: str) -> None:
        self.local.run(self.services.keys.revoke(key_id))

    def list_assistants(self, space: str, query: PageQuery) -> Page[Assistant]:
        assistants = self.services.assistants
        page = self.local.run(assistants.list_assistants(self.principal, space, query))
        return Page[Assistant].model_validate(page)

    def _loop(self) -> asyncio.AbstractEventLoop:
        """The loop replies run on: the store's own (PostgreSQL, Redis), or else a new one
        (SQLite runs its calls inline, but a reply is a task that needs a loop)."""
        if self._chat_loop is None:
            loop = self.local.run(_running_loop())
            if loop is None:
                loop = asyncio.new_event_loop()
                self._chat_thread = threading.Thread(
                    target=loop.run_forever, name="threadloom-chat", daemon=True
                )
                self._chat_thread.start()
            self._chat_loop = loop
        return self._chat_loop

    def chat(
        self, space: str, thread: str, content: str, assistant: str | None
    ) -> Generator[ChatEvent, None, None]:
        return _LocalReply(self, space, thread, content, assistant).events()


class _LocalReply:
    """One reply of the local backend: a task on the backend's loop writes its events to a
    queue that ``events`` reads from the command's thread. Leaving ``events`` early stops
    the model (on the loop, so stopping never races with starting) and waits until what it
    wrote is stored."""

    def __init__(
        self, backend: LocalBackend, space: str, thread: str, content: str, assistant: str | None
    ) -> None:
        self.backend = backend
        self.call = (space, thread, content, assistant)
        self.queue: queue.Queue[ChatEvent] = queue.Queue()
        self.run: ChatRun | None = None
        self.task: asyncio.Task[None] | None = None
        self.stopped = False

    async def produce(self) -> None:
        from .._client.streams import ChatEvent
        from ..core.chat import ChatDelta

        if self.stopped:
            return
        self.task = asyncio.current_task()
        space, thread, content, assistant = self.call
        backend = self.backend
        self.run = await backend.services.chat.start(
            backend.principal, space, thread, content, assistant=assistant
        )
        self.queue.put(ChatEvent("start", message=Message.model_validate(self.run.user_message)))
        if self.stopped:
            self.run.abandon()
        async for event in self.run.events():
            if isinstance(event, ChatDelta):
                self.queue.put(ChatEvent("delta", text=event.text))
            else:
                self.queue.put(ChatEvent("done", message=Message.model_validate(event.message)))

    def stop(self) -> None:
        """On the loop: stop the model, or stop waiting for its first word."""
        self.stopped = True
        if self.run is not None:
            self.run.abandon()
        elif self.task is not None:
            self.task.cancel()

    def events(self) -> Generator[ChatEvent, None, None]:
        loop = self.backend._loop()
        future = asyncio.run_coroutine_threadsafe(self.produce(), loop)
        try:
            while True:
                try:
                    event = self.queue.get(timeout=0.05)
                except queue.Empty:
                    if future.done() and self.queue.empty():
                        future.result()  # raises what failed
                        return
                    continue
                yield event
                if event.type == "done":
                    return
        finally:
            if not future.done():
                loop.call_soon_threadsafe(self.stop)
                concurrent.futures.wait([future])


async def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


@contextmanager
def connect(url: str | None, api_key: str | None, database_url: str | None) -> Iterator[Backend]:
    """The server at ``url`` if given, else the database at ``database_url`` (or the
    configured one), closed at the end."""
    backend: Backend = RemoteBackend(url, api_key) if url else LocalBackend(database_url)
    try:
        yield backend
    finally:
        backend.close()
