"""LangChain chat message history kept in threadloom threads (needs the ``langchain`` extra)::

    from threadloom import AsyncClient, Client
    from threadloom.integrations.langchain import ThreadloomChatMessageHistory

    history = ThreadloomChatMessageHistory("support-42", client=Client(), last_n=50)
    history.add_messages([HumanMessage("Hi!"), AIMessage("Hello.")])
    history.messages  # the newest 50 messages, oldest first

A session is a thread whose id is the session id, in ``space``; it is created by the first
write. The history talks to a server through a ``Client`` (the sync methods) and an
``AsyncClient`` (the async ones). With a ``Client`` only, the async methods run the sync ones
in a worker thread; with an ``AsyncClient`` only, the sync ones raise ``RuntimeError``. Given
no client, it opens the database at ``database_url`` (default: the server's,
``THREADLOOM_DATABASE_URL``) in this process through ``threadloom.access``, whose calls are
synchronous: there too the async methods run the sync ones in a worker thread.

A message is stored with its role as the threadloom role (``user``, ``assistant``, ``system``,
``tool``, ``function``, or a ``ChatMessage``'s own role), its text as the content, the URLs of
its image blocks as the images, its id as the message id when that is a valid threadloom id,
and everything else (type, name, tool calls, ``additional_kwargs``, ``response_metadata``,
the id itself...) under ``metadata["langchain"]``, in the shape of
``langchain_core.messages.message_to_dict`` without the defaults, so it reads back equal.
Messages written to the thread by other means read back by their role.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from ..access import Access, AsyncAccess, AsyncRemoteAccess, RemoteAccess
from ..client import AsyncClient, Client
from ..errors import AlreadyExists, NotFound
from ..extras import requires_extra
from ..ids import is_valid_id
from ..models import Message, MessageCreate, MessageListQuery, Page, ThreadCreate

try:
    from langchain_core.chat_history import BaseChatMessageHistory
    from langchain_core.messages import BaseMessage
    from langchain_core.runnables.config import run_in_executor
except ImportError as exc:  # pragma: no cover - depends on what is installed
    raise ImportError(
        "threadloom.integrations.langchain needs langchain-core: "
        "pip install 'threadloom[langchain]'"
    ) from exc

# The conversions. What this module held before they had a module of their own (the
# ``X as X`` names, and ``_to_stored`` and ``_from_stored`` below) still imports from it.
from ._langchain_messages import _KINDS as _KINDS
from ._langchain_messages import _ROLE_CHARS as _ROLE_CHARS
from ._langchain_messages import _ROLES as _ROLES
from ._langchain_messages import METADATA_KEY, from_stored, to_stored
from ._langchain_messages import ImagePath as ImagePath
from ._langchain_messages import _by_role as _by_role
from ._langchain_messages import _image_url_path as _image_url_path
from ._langchain_messages import _is_url as _is_url
from ._langchain_messages import _restored as _restored
from ._langchain_messages import _role_of as _role_of
from ._langchain_messages import _split_blocks as _split_blocks
from ._langchain_messages import _swap as _swap

__all__ = ["METADATA_KEY", "ThreadloomChatMessageHistory"]

BATCH = 100
"""Messages per append request and per page read: the API's largest."""

Order = Literal["asc", "desc"]
_to_stored, _from_stored = to_stored, from_stored  # their names before the split


class ThreadloomChatMessageHistory(BaseChatMessageHistory):
    """The messages of the thread ``session_id`` in ``space``.

    ``last_n``: reading returns only the newest ``last_n`` messages, read newest first (one
    request for up to 100); without it, reading pages through the whole thread, 100 messages
    a request. ``add_messages`` appends in one request (all or none) per 100 messages, each
    with an Idempotency-Key of its own, so the client's retries never store a message twice;
    a message id already in the thread answers ``AlreadyExists``. ``clear`` deletes the
    thread for good (its metadata and state too); the next write creates it again.
    """

    def __init__(
        self,
        session_id: str,
        *,
        client: Client | None = None,
        async_client: AsyncClient | None = None,
        space: str = "default",
        last_n: int | None = None,
        database_url: str | None = None,
    ) -> None:
        super().__init__()
        if not is_valid_id(session_id):
            raise ValueError(
                f"session_id {session_id!r} is not a threadloom thread id: "
                "1 to 128 characters of A-Z, a-z, 0-9, '_', '.', ':' and '-'"
            )
        if last_n is not None and last_n < 1:
            raise ValueError("last_n must be 1 or more (None: every message)")
        if database_url is not None and (client is not None or async_client is not None):
            raise ValueError("pass clients or a database_url, not both")
        self.session_id = session_id
        self.space = space
        self.last_n = last_n
        self._database_url = database_url
        self._access: Access | None = RemoteAccess(client) if client is not None else None
        self._async_access: AsyncAccess | None = (
            AsyncRemoteAccess(async_client) if async_client is not None else None
        )
        # Known to be missing (read as such, or cleared): the next write creates it first
        # instead of learning it from a failed append. Only a hint; writes never rely on it.
        self._missing = False

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(session_id={self.session_id!r}, space={self.space!r}, "
            f"last_n={self.last_n!r})"
        )

    # sync ---------------------------------------------------------------------------------

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]  # read-only: a read
        access = self._sync_access()
        reading = _Reading(self.last_n)
        try:
            while not reading.done:
                reading.take(access.list_messages(self.space, self.session_id, reading.query()))
        except NotFound:
            self._missing = True
            return []
        self._missing = False
        return reading.result()

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        access = self._sync_access()
        for batch in _batches(messages):
            if not self._missing:
                try:
                    access.append_messages(self.space, self.session_id, batch)
                    continue
                except NotFound:
                    pass
            try:
                access.create_thread(self.space, ThreadCreate(id=self.session_id))
            except AlreadyExists:
                pass  # created meanwhile by another writer
            access.append_messages(self.space, self.session_id, batch)
            self._missing = False

    def clear(self) -> None:
        try:
            self._sync_access().purge_thread(self.space, self.session_id)
        except NotFound:
            pass
        self._missing = True

    def _sync_access(self) -> Access:
        if self._access is None:
            if self._async_access is not None:
                raise RuntimeError(
                    "this history has an async_client only: use aget_messages, aadd_messages "
                    "and aclear, or give it a client too"
                )
            with requires_extra("the LangChain history on a local database"):
                from ..access.local import LocalAccess

            self._access = LocalAccess(self._database_url)
        return self._access

    # async --------------------------------------------------------------------------------

    async def aget_messages(self) -> list[BaseMessage]:
        access = self._async_access
        if access is None:
            return await run_in_executor(None, lambda: self.messages)
        reading = _Reading(self.last_n)
        try:
            while not reading.done:
                page = await access.list_messages(self.space, self.session_id, reading.query())
                reading.take(page)
        except NotFound:
            self._missing = True
            return []
        self._missing = False
        return reading.result()

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        access = self._async_access
        if access is None:
            await run_in_executor(None, self.add_messages, messages)
            return
        for batch in _batches(messages):
            if not self._missing:
                try:
                    await access.append_messages(self.space, self.session_id, batch)
                    continue
                except NotFound:
                    pass
            try:
                await access.create_thread(self.space, ThreadCreate(id=self.session_id))
            except AlreadyExists:
                pass  # created meanwhile by another writer
            await access.append_messages(self.space, self.session_id, batch)
            self._missing = False

    async def aclear(self) -> None:
        access = self._async_access
        if access is None:
            await run_in_executor(None, self.clear)
            return
        try:
            await access.purge_thread(self.space, self.session_id)
        except NotFound:
            pass
        self._missing = True


# Reading --------------------------------------------------------------------------------------


class _Reading:
    """The pages one read asks for, and the messages it makes of them: the whole thread from
    the oldest, or the newest ``last_n`` from the newest (returned oldest first)."""

    def __init__(self, last_n: int | None) -> None:
        self.last_n = last_n
        self.order: Order = "asc" if last_n is None else "desc"
        self.after: str | None = None
        self.done = False
        self._rows: list[Message] = []

    @property
    def limit(self) -> int:
        if self.last_n is None:
            return BATCH
        return min(BATCH, self.last_n - len(self._rows))

    def query(self) -> MessageListQuery:
        """The next page to ask for."""
        return MessageListQuery(order=self.order, limit=self.limit, after=self.after)

    def take(self, page: Page[Message]) -> None:
        self._rows.extend(page.data)
        self.after = page.last_id
        full = self.last_n is not None and len(self._rows) >= self.last_n
        self.done = full or not page.has_more or page.last_id is None

    def result(self) -> list[BaseMessage]:
        rows = self._rows if self.last_n is None else reversed(self._rows)
        return [from_stored(row) for row in rows]


# Writing -------------------------------------------------------------------------------------


def _batches(messages: Sequence[BaseMessage]) -> list[list[MessageCreate]]:
    taken: set[str] = set()
    stored = [to_stored(message, taken) for message in messages]
    return [stored[start : start + BATCH] for start in range(0, len(stored), BATCH)]
