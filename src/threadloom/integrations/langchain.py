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
``THREADLOOM_DATABASE_URL``) in this process through ``threadloom.local``, whose calls are
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
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ..client import AsyncClient, Client
from ..errors import AlreadyExists, NotFound
from ..ids import is_valid_id
from ..models import Message, MessageCreate, MessageListQuery, Page, ThreadCreate

try:
    from langchain_core.chat_history import BaseChatMessageHistory
    from langchain_core.messages import (
        AIMessage,
        BaseMessage,
        ChatMessage,
        FunctionMessage,
        HumanMessage,
        SystemMessage,
        ToolMessage,
        messages_from_dict,
    )
    from langchain_core.runnables.config import run_in_executor
except ImportError as exc:  # pragma: no cover - depends on what is installed
    raise ImportError(
        "threadloom.integrations.langchain needs langchain-core: "
        "pip install 'threadloom[langchain]'"
    ) from exc

if TYPE_CHECKING:
    from ..local import LocalStore

__all__ = ["METADATA_KEY", "ThreadloomChatMessageHistory"]

METADATA_KEY = "langchain"
"""The key of a message's metadata that holds what its threadloom fields do not."""
BATCH = 100
"""Messages per append request and per page read: the API's largest."""

Order = Literal["asc", "desc"]


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
        self._async_client = async_client
        self._backend: _Backend | None = None
        if client is not None:
            self._backend = _ClientBackend(client)
        elif async_client is None:
            self._backend = _LocalBackend(database_url)
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
        backend = self._sync_backend()
        reading = _Reading(self.last_n)
        try:
            while not reading.done:
                reading.take(
                    backend.page(
                        self.space, self.session_id, reading.order, reading.limit, reading.after
                    )
                )
        except NotFound:
            self._missing = True
            return []
        self._missing = False
        return reading.result()

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        backend = self._sync_backend()
        for batch in _batches(messages):
            if not self._missing:
                try:
                    backend.append(self.space, self.session_id, batch)
                    continue
                except NotFound:
                    pass
            try:
                backend.create_thread(self.space, self.session_id)
            except AlreadyExists:
                pass  # created meanwhile by another writer
            backend.append(self.space, self.session_id, batch)
            self._missing = False

    def clear(self) -> None:
        try:
            self._sync_backend().purge(self.space, self.session_id)
        except NotFound:
            pass
        self._missing = True

    def _sync_backend(self) -> _Backend:
        if self._backend is None:
            raise RuntimeError(
                "this history has an async_client only: use aget_messages, aadd_messages and "
                "aclear, or give it a client too"
            )
        return self._backend

    # async --------------------------------------------------------------------------------

    async def aget_messages(self) -> list[BaseMessage]:
        client = self._async_client
        if client is None:
            return await run_in_executor(None, lambda: self.messages)
        reading = _Reading(self.last_n)
        try:
            while not reading.done:
                reading.take(
                    await client.messages.list(
                        self.space,
                        self.session_id,
                        order=reading.order,
                        limit=reading.limit,
                        after=reading.after,
                    )
                )
        except NotFound:
            self._missing = True
            return []
        self._missing = False
        return reading.result()

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        client = self._async_client
        if client is None:
            await run_in_executor(None, self.add_messages, messages)
            return
        for batch in _batches(messages):
            if not self._missing:
                try:
                    await client.messages.create_batch(self.space, self.session_id, batch)
                    continue
                except NotFound:
                    pass
            try:
                await client.threads.create(self.space, id=self.session_id)
            except AlreadyExists:
                pass  # created meanwhile by another writer
            await client.messages.create_batch(self.space, self.session_id, batch)
            self._missing = False

    async def aclear(self) -> None:
        client = self._async_client
        if client is None:
            await run_in_executor(None, self.clear)
            return
        try:
            await client.threads.purge(self.space, self.session_id)
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

    def take(self, page: Page[Message]) -> None:
        self._rows.extend(page.data)
        self.after = page.last_id
        full = self.last_n is not None and len(self._rows) >= self.last_n
        self.done = full or not page.has_more or page.last_id is None

    def result(self) -> list[BaseMessage]:
        rows = self._rows if self.last_n is None else reversed(self._rows)
        return [_from_stored(row) for row in rows]


# Backends of the sync methods -----------------------------------------------------------------


class _Backend(Protocol):
    def create_thread(self, space: str, thread: str) -> None: ...
    def append(self, space: str, thread: str, messages: list[MessageCreate]) -> None: ...
    def page(
        self, space: str, thread: str, order: Order, limit: int, after: str | None
    ) -> Page[Message]: ...
    def purge(self, space: str, thread: str) -> None: ...


class _ClientBackend:
    """A server, through ``threadloom.Client``."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def create_thread(self, space: str, thread: str) -> None:
        self.client.threads.create(space, id=thread)

    def append(self, space: str, thread: str, messages: list[MessageCreate]) -> None:
        self.client.messages.create_batch(space, thread, messages)

    def page(
        self, space: str, thread: str, order: Order, limit: int, after: str | None
    ) -> Page[Message]:
        return self.client.messages.list(space, thread, order=order, limit=limit, after=after)

    def purge(self, space: str, thread: str) -> None:
        self.client.threads.purge(space, thread)


class _LocalBackend:
    """A database in this process, through ``threadloom.local`` (imported on first use: it
    pulls in the server's storage layer)."""

    def __init__(self, url: str | None) -> None:
        self.url = url

    @property
    def _local(self) -> LocalStore:
        from .. import local

        return local.store_for(self.url)

    def create_thread(self, space: str, thread: str) -> None:
        local = self._local
        fields = ThreadCreate(id=thread)
        local.run(local.services.threads.create(local.principal, space, fields))

    def append(self, space: str, thread: str, messages: list[MessageCreate]) -> None:
        local = self._local
        local.run(local.services.threads.append(local.principal, space, thread, messages))

    def page(
        self, space: str, thread: str, order: Order, limit: int, after: str | None
    ) -> Page[Message]:
        local = self._local
        query = MessageListQuery(order=order, limit=limit, after=after)
        body = local.run(
            local.services.threads.list_messages(local.principal, space, thread, query)
        )
        return Page[Message].model_validate(body)

    def purge(self, space: str, thread: str) -> None:
        local = self._local
        local.run(local.services.threads.purge(local.principal, space, thread))


# LangChain messages as threadloom messages and back -----------------------------------------

_ROLES: tuple[tuple[type[BaseMessage], str], ...] = (
    (HumanMessage, "user"),
    (AIMessage, "assistant"),
    (SystemMessage, "system"),
    (ToolMessage, "tool"),
    (FunctionMessage, "function"),
)
_KINDS: dict[str, type[HumanMessage] | type[AIMessage] | type[SystemMessage]] = {
    "user": HumanMessage,
    "assistant": AIMessage,
    "system": SystemMessage,
}
_ROLE_CHARS = 64
ImagePath = list[int | str]


def _batches(messages: Sequence[BaseMessage]) -> list[list[MessageCreate]]:
    taken: set[str] = set()
    stored = [_to_stored(message, taken) for message in messages]
    return [stored[start : start + BATCH] for start in range(0, len(stored), BATCH)]


def _role_of(message: BaseMessage) -> str:
    if isinstance(message, ChatMessage):
        role = message.role
    else:
        role = next((role for kind, role in _ROLES if isinstance(message, kind)), message.type)
    return role if 0 < len(role) <= _ROLE_CHARS else "chat"


def _to_stored(message: BaseMessage, taken: set[str]) -> MessageCreate:
    """``message`` as a threadloom message. ``taken``: the ids used so far in its batch, as a
    repeated one (a valid LangChain id, but not unique) is stored in the metadata only."""
    data: dict[str, Any] = message.model_dump(mode="json", exclude_defaults=True)
    data.pop("type", None)
    saved: dict[str, Any] = {"type": message.type, "data": data}
    images: list[str] = []
    if isinstance(message.content, str):
        text = data.pop("content")
    else:
        text, images, paths = _split_blocks(data["content"])
        if paths:
            saved["images"] = paths
    fields: dict[str, Any] = {
        "role": _role_of(message),
        "content": text,
        "images": images,
        "metadata": {METADATA_KEY: saved},
    }
    if message.id is not None and is_valid_id(message.id) and message.id not in taken:
        taken.add(message.id)
        fields["id"] = message.id
    return MessageCreate(**fields)


def _split_blocks(blocks: list[Any]) -> tuple[str, list[str], list[ImagePath]]:
    """The text of content blocks, the URLs of their images and where each was. It blanks
    those URLs in ``blocks``: they are stored as the message's images, not in its metadata
    (whose limit a ``data:`` URL would soon pass)."""
    texts: list[str] = []
    images: list[str] = []
    paths: list[ImagePath] = []
    for index, block in enumerate(blocks):
        if isinstance(block, str):
            texts.append(block)
            continue
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        path = _image_url_path(block)
        if path is not None:
            images.append(_swap(block, path, ""))
            paths.append([index, *path])
    return "".join(texts), images, paths


def _is_url(value: object) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://", "data:"))


def _image_url_path(block: dict[str, Any]) -> list[str] | None:
    """Where an image block keeps its URL: OpenAI's ``image_url`` blocks and LangChain's
    standard ``image`` blocks."""
    kind = block.get("type")
    if kind == "image_url":
        inner = block.get("image_url")
        if _is_url(inner):
            return ["image_url"]
        if isinstance(inner, dict) and _is_url(inner.get("url")):
            return ["image_url", "url"]
    elif kind == "image" and _is_url(block.get("url")):
        return ["url"]
    return None


def _swap(container: Any, path: Sequence[int | str], value: object) -> Any:
    """Set the value at ``path`` in nested dicts and lists; return the one it replaced."""
    *parents, last = path
    for key in parents:
        container = container[key]
    old = container[last]
    container[last] = value
    return old


def _from_stored(message: Message) -> BaseMessage:
    saved = message.metadata.get(METADATA_KEY)
    if isinstance(saved, dict):
        try:
            return _restored(saved, message)
        except (KeyError, IndexError, TypeError, ValueError):
            pass  # not as this adapter writes it: read it like any other message
    return _by_role(message)


def _restored(saved: dict[str, Any], message: Message) -> BaseMessage:
    data = dict(saved["data"])
    if "content" in data:
        for path, url in zip(saved.get("images", []), message.images, strict=True):
            _swap(data["content"], path, url)
    else:
        data["content"] = message.content
    return messages_from_dict([{"type": saved["type"], "data": data}])[0]


def _by_role(message: Message) -> BaseMessage:
    """A message written by other means: its role's kind of message, its text and images."""
    content: str | list[str | dict[str, Any]] = message.content
    if message.images:
        blocks: list[str | dict[str, Any]] = []
        if message.content:
            blocks.append({"type": "text", "text": message.content})
        blocks.extend({"type": "image_url", "image_url": {"url": url}} for url in message.images)
        content = blocks
    kind = _KINDS.get(message.role)
    if kind is None:
        return ChatMessage(content=content, role=message.role, id=message.id)
    return kind(content=content, id=message.id)
