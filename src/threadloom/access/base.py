"""What reading and writing threadloom's data is, wherever the data lives.

``Access`` (blocking) and ``AsyncAccess`` (asyncio) are the operations the command line, the
RoleThread API and the framework integrations need, on the wire models of
``threadloom.models``: the same ``Thread``, ``Message`` and ``Page`` a server answers. Each has
two implementations, chosen once by ``threadloom.access.connect``:

- local (``access.local``): the services in this process, on the database itself, as the open
  admin principal (whoever has the database URL has the data);
- remote (``access.remote``): a threadloom server through ``Client`` or ``AsyncClient``.

Both raise the same ``threadloom.errors`` for the same failure, so a caller is written once.
Lists come a page at a time; ``pages`` and ``apages`` walk them all.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar

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

if TYPE_CHECKING:
    from .._client.streams import ChatEvent

__all__ = ["Access", "AsyncAccess", "KeyRole", "apages", "pages"]

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


async def apages(
    fetch: Callable[[str | None], Awaitable[Page[T]]], after: str | None = None
) -> AsyncIterator[T]:
    """``pages`` for ``AsyncAccess``: ``fetch(after)`` is awaited for each page."""
    while True:
        page = await fetch(after)
        for item in page.data:
            yield item
        if not page.has_more or page.last_id is None:
            return
        after = page.last_id


class Access(ABC):
    """The data, on a server or on the database, with blocking calls."""

    where: str
    """What the calls reach: the server's URL, or the database's."""
    remote: str | None
    """The server's URL; None for the database itself."""
    batch_size: int = 100
    """The most messages ``append_messages`` takes at once."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Access:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

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
    def update_thread(self, space: str, thread: str, changes: ThreadUpdate) -> Thread: ...
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
    ) -> list[Message]:
        """Appends all or none of up to ``batch_size`` messages; they keep their ids."""

    @abstractmethod
    def get_message(self, space: str, thread: str, message: str) -> Message: ...
    @abstractmethod
    def delete_message(self, space: str, thread: str, message: str) -> None: ...

    # state
    @abstractmethod
    def get_state(self, space: str, thread: str) -> State: ...
    @abstractmethod
    def put_state(self, space: str, thread: str, state: Any, if_match: int | None) -> State: ...
    @abstractmethod
    def patch_state(self, space: str, thread: str, patch: Any, if_match: int | None) -> State: ...

    # the roles of a RoleThread (in the default space: where the original API keeps them)
    @abstractmethod
    def add_role(self, thread: str, role: V1Role) -> None:
        """One atomic check-and-set: ``Conflict`` (exactly) when the role exists."""

    @abstractmethod
    def remove_role(self, thread: str, name: str) -> None:
        """One atomic check-and-delete: ``NotFound`` for a missing role or thread."""

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


class AsyncAccess(ABC):
    """``Access`` for asyncio: the same operations, awaited."""

    where: str
    remote: str | None
    batch_size: int = 100

    @abstractmethod
    async def aclose(self) -> None: ...

    async def __aenter__(self) -> AsyncAccess:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @abstractmethod
    async def list_spaces(self, query: PageQuery) -> Page[Space]: ...
    @abstractmethod
    async def create_space(self, body: SpaceCreate) -> Space: ...
    @abstractmethod
    async def delete_space(self, space: str, *, force: bool) -> None: ...

    @abstractmethod
    async def list_threads(self, space: str, query: ThreadListQuery) -> Page[Thread]: ...
    @abstractmethod
    async def get_thread(self, space: str, thread: str) -> Thread: ...
    @abstractmethod
    async def create_thread(self, space: str, body: ThreadCreate) -> Thread: ...
    @abstractmethod
    async def update_thread(self, space: str, thread: str, changes: ThreadUpdate) -> Thread: ...
    @abstractmethod
    async def set_archived(self, space: str, thread: str, archived: bool) -> Thread: ...
    @abstractmethod
    async def purge_thread(self, space: str, thread: str) -> None: ...

    @abstractmethod
    async def list_messages(
        self, space: str, thread: str, query: MessageListQuery
    ) -> Page[Message]: ...
    @abstractmethod
    async def append_messages(
        self, space: str, thread: str, messages: Sequence[MessageCreate]
    ) -> list[Message]: ...
    @abstractmethod
    async def get_message(self, space: str, thread: str, message: str) -> Message: ...
    @abstractmethod
    async def delete_message(self, space: str, thread: str, message: str) -> None: ...

    @abstractmethod
    async def get_state(self, space: str, thread: str) -> State: ...
    @abstractmethod
    async def put_state(
        self, space: str, thread: str, state: Any, if_match: int | None
    ) -> State: ...
    @abstractmethod
    async def patch_state(
        self, space: str, thread: str, patch: Any, if_match: int | None
    ) -> State: ...

    @abstractmethod
    async def add_role(self, thread: str, role: V1Role) -> None: ...
    @abstractmethod
    async def remove_role(self, thread: str, name: str) -> None: ...

    @abstractmethod
    async def create_key(
        self, role: KeyRole, space: str | None, name: str | None
    ) -> ApiKeyCreated: ...
    @abstractmethod
    async def list_keys(self) -> list[ApiKey]: ...
    @abstractmethod
    async def revoke_key(self, key_id: str) -> None: ...

    @abstractmethod
    async def list_assistants(self, space: str, query: PageQuery) -> Page[Assistant]: ...
    @abstractmethod
    def chat(
        self, space: str, thread: str, content: str, assistant: str | None
    ) -> AsyncIterator[ChatEvent]: ...
