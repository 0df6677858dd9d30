"""The Python client of the threadloom API: ``Client`` (blocking) and ``AsyncClient``.

Both have the same namespaces and methods, each written once (``threadloom._client``):
``client.spaces``, ``client.threads``, ``client.messages``, ``client.state``,
``client.assistants``, ``client.keys``, ``client.legacy`` (the original ``/threads/`` API),
``client.rolethreads`` (the original threadmem server's atomic role changes),
``client.health()`` and ``client.ready()``. They return the models of ``threadloom.models``
and raise the exceptions of ``threadloom.errors``; failed attempts are retried where that is
safe (see ``threadloom._client.base``). The clients here only send, wait between retries
and walk pages; everything else is shared.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from functools import cached_property
from typing import Any, Generic, Self, TypeVar

import anyio
import httpx

from ._client.base import BaseClient, Retry, error_from_response
from ._client.calls import AsyncAPI, Call, SyncAPI
from ._client.endpoints import (
    AssistantChanges,
    AssistantEndpoints,
    AssistantFields,
    ChatEndpoints,
    EventEndpoints,
    KeyEndpoints,
    LegacyEndpoints,
    MessageEndpoints,
    RoleThreadEndpoints,
    ServiceEndpoints,
    SpaceEndpoints,
    StateEndpoints,
    ThreadChanges,
    ThreadEndpoints,
    ThreadFields,
)
from ._client.streams import EventParser, StreamCall, parse_events
from .models import Page

__all__ = [
    "AsyncEvents",
    "AsyncChat",
    "Events",
    "Chat",
    "AssistantChanges",
    "AssistantFields",
    "Assistants",
    "AsyncAssistants",
    "AsyncClient",
    "AsyncKeys",
    "AsyncLegacy",
    "AsyncMessages",
    "AsyncRoleThreads",
    "AsyncSpaces",
    "AsyncStateAPI",
    "AsyncThreads",
    "BaseClient",
    "Client",
    "Keys",
    "Legacy",
    "Messages",
    "RoleThreads",
    "Spaces",
    "StateAPI",
    "ThreadChanges",
    "ThreadFields",
    "Threads",
]

T = TypeVar("T")
ClientT = TypeVar("ClientT", "Client", "AsyncClient")


class Client(
    BaseClient[httpx.Client, httpx.BaseTransport, Callable[[float], None]],
    ServiceEndpoints,
    SyncAPI,
):
    """The threadloom API over HTTP, blocking::

        with Client("http://127.0.0.1:8000", api_key) as client:
            thread = client.threads.create("default", title="Support chat")
            client.messages.create("default", thread.id, "Hi!")
            for message in client.messages.iter("default", thread.id):
                ...

    Arguments (all but the first two keyword-only): ``base_url`` (``THREADLOOM_URL``, else
    ``http://127.0.0.1:8000``), ``api_key`` (``THREADLOOM_API_KEY``), ``timeout`` (seconds
    an attempt may take, 10), ``max_retries`` (3), ``transport`` (an
    ``httpx.BaseTransport``), ``headers`` (sent with every request), ``sleep`` (waits
    between retries; ``time.sleep``).

    A failed attempt is retried, after the server's ``Retry-After`` or a backoff with jitter,
    when that is safe: the request never reached the server; the server answered 429 or 503;
    or the connection broke after sending and the call is repeatable, which every call is
    but ``keys.create`` and the role changes of ``rolethreads`` (each create sends one
    Idempotency-Key on all its attempts). The details are in ``threadloom._client.base``.
    """

    spaces = cached_property(lambda self: Spaces(self))
    threads = cached_property(lambda self: Threads(self))
    messages = cached_property(lambda self: Messages(self))
    state = cached_property(lambda self: StateAPI(self))
    assistants = cached_property(lambda self: Assistants(self))
    chat = cached_property(lambda self: Chat(self))
    events = cached_property(lambda self: Events(self))
    keys = cached_property(lambda self: Keys(self))
    legacy = cached_property(lambda self: Legacy(self))
    rolethreads = cached_property(lambda self: RoleThreads(self))

    def _open(self, transport: httpx.BaseTransport | None, **options: Any) -> httpx.Client:
        return httpx.Client(transport=transport, **options)

    def _stream(self, stream: StreamCall[T]) -> Iterator[T]:
        request = self._stream_request(stream)
        response = self._http.send(request, stream=True)
        try:
            if not response.is_success:
                response.read()
                raise error_from_response(response)
            for event in parse_events(response.iter_lines()):
                item = stream.convert(event)
                if item is not None:
                    yield item
        finally:
            response.close()

    def _send(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            try:
                response = self._http.send(self._request(call))
            except httpx.TransportError as failure:
                outcome: T | Retry = self._after_failure(call, attempt, failure)
            else:
                outcome = self._after_response(call, attempt, response)
            if not isinstance(outcome, Retry):
                return outcome
            (self._sleep or time.sleep)(outcome.delay)
            attempt += 1

    def _iterate(self, call: Call[Page[T]] | None) -> Iterator[T]:
        while call is not None:
            page = self._send(call)
            yield from page.data
            call = call.next_page(page)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncClient(
    BaseClient[httpx.AsyncClient, httpx.AsyncBaseTransport, Callable[[float], Awaitable[None]]],
    ServiceEndpoints,
    AsyncAPI,
):
    """The threadloom API over HTTP, for asyncio (and trio)::

        async with AsyncClient() as client:
            thread = await client.threads.create("default", title="Support chat")
            async for message in client.messages.iter("default", thread.id):
                ...

    The same arguments as ``Client``, with an ``httpx.AsyncBaseTransport`` (in tests,
    ``httpx.ASGITransport(app=app)``) and an async ``sleep`` (``anyio.sleep``).
    """

    spaces = cached_property(lambda self: AsyncSpaces(self))
    threads = cached_property(lambda self: AsyncThreads(self))
    messages = cached_property(lambda self: AsyncMessages(self))
    state = cached_property(lambda self: AsyncStateAPI(self))
    assistants = cached_property(lambda self: AsyncAssistants(self))
    chat = cached_property(lambda self: AsyncChat(self))
    events = cached_property(lambda self: AsyncEvents(self))
    keys = cached_property(lambda self: AsyncKeys(self))
    legacy = cached_property(lambda self: AsyncLegacy(self))
    rolethreads = cached_property(lambda self: AsyncRoleThreads(self))

    async def _stream(self, stream: StreamCall[T]) -> AsyncIterator[T]:
        request = self._stream_request(stream)
        response = await self._http.send(request, stream=True)
        try:
            if not response.is_success:
                await response.aread()
                raise error_from_response(response)
            parser = EventParser()
            async for line in response.aiter_lines():
                event = parser.feed(line)
                item = stream.convert(event) if event is not None else None
                if item is not None:
                    yield item
        finally:
            await response.aclose()

    def _open(
        self, transport: httpx.AsyncBaseTransport | None, **options: Any
    ) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=transport, **options)

    async def _send(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            try:
                response = await self._http.send(self._request(call))
            except httpx.TransportError as failure:
                outcome: T | Retry = self._after_failure(call, attempt, failure)
            else:
                outcome = self._after_response(call, attempt, response)
            if not isinstance(outcome, Retry):
                return outcome
            await (self._sleep or anyio.sleep)(outcome.delay)
            attempt += 1

    async def _iterate(self, call: Call[Page[T]] | None) -> AsyncIterator[T]:
        while call is not None:
            page = await self._send(call)
            for item in page.data:
                yield item
            call = call.next_page(page)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


# Namespaces ---------------------------------------------------------------------------------


class _Namespace(Generic[ClientT]):
    """A group of endpoints reached from a client (``client.threads``): sends through it."""

    def __init__(self, client: ClientT) -> None:
        self._client: ClientT = client

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._client!r}>"

    def _send(self, call: Call[Any]) -> Any:
        return self._client._send(call)

    def _iterate(self, call: Call[Page[Any]]) -> Any:
        return self._client._iterate(call)

    def _stream(self, stream: StreamCall[Any]) -> Any:
        return self._client._stream(stream)


class Spaces(SpaceEndpoints, _Namespace[Client], SyncAPI):
    __doc__ = SpaceEndpoints.__doc__


class Threads(ThreadEndpoints, _Namespace[Client], SyncAPI):
    __doc__ = ThreadEndpoints.__doc__


class Messages(MessageEndpoints, _Namespace[Client], SyncAPI):
    __doc__ = MessageEndpoints.__doc__


class StateAPI(StateEndpoints, _Namespace[Client], SyncAPI):
    __doc__ = StateEndpoints.__doc__


class Assistants(AssistantEndpoints, _Namespace[Client], SyncAPI):
    __doc__ = AssistantEndpoints.__doc__


class Chat(ChatEndpoints, _Namespace[Client], SyncAPI):
    __doc__ = ChatEndpoints.__doc__


class Events(EventEndpoints, _Namespace[Client], SyncAPI):
    __doc__ = EventEndpoints.__doc__


class Keys(KeyEndpoints, _Namespace[Client], SyncAPI):
    __doc__ = KeyEndpoints.__doc__


class Legacy(LegacyEndpoints, _Namespace[Client], SyncAPI):
    __doc__ = LegacyEndpoints.__doc__


class RoleThreads(RoleThreadEndpoints, _Namespace[Client], SyncAPI):
    __doc__ = RoleThreadEndpoints.__doc__


class AsyncSpaces(SpaceEndpoints, _Namespace[AsyncClient], AsyncAPI):
    __doc__ = SpaceEndpoints.__doc__


class AsyncThreads(ThreadEndpoints, _Namespace[AsyncClient], AsyncAPI):
    __doc__ = ThreadEndpoints.__doc__


class AsyncMessages(MessageEndpoints, _Namespace[AsyncClient], AsyncAPI):
    __doc__ = MessageEndpoints.__doc__


class AsyncStateAPI(StateEndpoints, _Namespace[AsyncClient], AsyncAPI):
    __doc__ = StateEndpoints.__doc__


class AsyncAssistants(AssistantEndpoints, _Namespace[AsyncClient], AsyncAPI):
    __doc__ = AssistantEndpoints.__doc__


class AsyncChat(ChatEndpoints, _Namespace[AsyncClient], AsyncAPI):
    __doc__ = ChatEndpoints.__doc__


class AsyncEvents(EventEndpoints, _Namespace[AsyncClient], AsyncAPI):
    __doc__ = EventEndpoints.__doc__


class AsyncKeys(KeyEndpoints, _Namespace[AsyncClient], AsyncAPI):
    __doc__ = KeyEndpoints.__doc__


class AsyncLegacy(LegacyEndpoints, _Namespace[AsyncClient], AsyncAPI):
    __doc__ = LegacyEndpoints.__doc__


class AsyncRoleThreads(RoleThreadEndpoints, _Namespace[AsyncClient], AsyncAPI):
    __doc__ = RoleThreadEndpoints.__doc__
