"""Server-Sent Events read by the clients: the chat reply as it is written, and live events.

A stream is not retried: it is opened once and read until the server ends it (or the caller
stops iterating, which closes the connection; a chat reply is then kept as incomplete).
Reads may wait as long as the server stays silent: the server sends a keep-alive comment
every 15 seconds, so the read timeout of a stream is a minute, whatever the client's is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Concatenate, Generic, Literal, ParamSpec, Self, TypeVar, overload

import orjson
from pydantic import TypeAdapter

from ..errors import error_for_problem
from ..models import Message
from .calls import AsyncAPI, Call, SyncAPI, _Descriptor

__all__ = [
    "STREAM_READ_TIMEOUT",
    "ChatEvent",
    "EventParser",
    "LiveEvent",
    "ServerSentEvent",
    "StreamCall",
    "Streamed",
    "chat_event",
    "live_event",
    "parse_events",
]

T = TypeVar("T")
P = ParamSpec("P")
STREAM_READ_TIMEOUT = 60.0
_MESSAGE = TypeAdapter(Message)


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    event: str
    data: str
    id: str | None = None


class EventParser:
    """Reads a ``text/event-stream`` body a line at a time (comments are skipped)."""

    def __init__(self) -> None:
        self._name = "message"
        self._id: str | None = None
        self._data: list[str] = []

    def feed(self, line: str) -> ServerSentEvent | None:
        """The event that ``line`` completes, if it does."""
        if not line:
            return self.end()
        if line.startswith(":"):
            return None
        key, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if key == "event":
            self._name = value
        elif key == "data":
            self._data.append(value)
        elif key == "id":
            self._id = value
        return None

    def end(self) -> ServerSentEvent | None:
        """The event still being read when the body ends (or a blank line comes)."""
        event = ServerSentEvent(self._name, "\n".join(self._data), self._id) if self._data else None
        self._name, self._id, self._data = "message", None, []
        return event


def parse_events(lines: Iterator[str]) -> Iterator[ServerSentEvent]:
    """The events of an ``text/event-stream`` body, given its lines."""
    parser = EventParser()
    for line in lines:
        if (event := parser.feed(line)) is not None:
            yield event
    if (event := parser.end()) is not None:
        yield event


@dataclass(frozen=True, slots=True)
class ChatEvent:
    """One event of a streamed chat reply.

    ``start``: ``message`` is the stored user message. ``delta``: ``text`` is the next piece
    of the reply. ``done``: ``message`` is the stored reply (its ``content`` is the whole
    text). A failure is raised as the matching ``ThreadloomError`` instead.
    """

    type: Literal["start", "delta", "done"]
    text: str = ""
    message: Message | None = None


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """One event of a thread or space stream. Pass ``id`` as ``last_event_id`` to resume."""

    type: str
    id: str | None
    thread_id: str | None
    data: Any = field(default=None)


def _raise_problem(event: ServerSentEvent) -> None:
    problem = orjson.loads(event.data)
    raise error_for_problem(int(problem.get("status") or 502), problem)


def chat_event(event: ServerSentEvent) -> ChatEvent | None:
    if event.event == "delta":
        return ChatEvent("delta", text=orjson.loads(event.data)["text"])
    if event.event == "start":
        start = orjson.loads(event.data)
        return ChatEvent("start", message=_MESSAGE.validate_python(start["user_message"]))
    if event.event == "done":
        return ChatEvent("done", message=_MESSAGE.validate_json(event.data))
    if event.event == "error":
        _raise_problem(event)
    return None  # an event this client does not know yet


def live_event(event: ServerSentEvent) -> LiveEvent:
    """``data`` is the message, thread or state the event is about (``{"detail": ...}`` for
    the stream's own ``replay.incomplete`` and ``lagged``)."""
    body = orjson.loads(event.data)
    return LiveEvent(event.event, event.id, body.get("thread_id"), body.get("data", body))


@dataclass(frozen=True, slots=True)
class StreamCall(Generic[T]):
    """A call whose answer is an event stream; ``convert`` turns each event into an item
    (None: skip it)."""

    call: Call[None]
    convert: Callable[[ServerSentEvent], T | None]


class Streamed(_Descriptor, Generic[P, T]):
    """Decorates a method returning ``StreamCall[T]``: an ``Iterator[T]`` on ``Client``, an
    ``AsyncIterator[T]`` on ``AsyncClient``. Stop iterating to close the stream."""

    def __init__(self, build: Callable[Concatenate[Any, P], StreamCall[T]]) -> None:
        self.build = build
        self.__doc__ = build.__doc__

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, obj: SyncAPI, owner: type[Any]) -> Callable[P, Iterator[T]]: ...
    @overload
    def __get__(self, obj: AsyncAPI, owner: type[Any]) -> Callable[P, AsyncIterator[T]]: ...
    def __get__(self, obj: Any, owner: type[Any]) -> Any:
        if obj is None:
            return self
        build = self.build

        def stream(*args: P.args, **kwargs: P.kwargs) -> Any:
            return obj._stream(build(obj, *args, **kwargs))

        return self._named(stream)
