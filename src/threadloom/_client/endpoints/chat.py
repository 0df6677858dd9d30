"""Chat on a thread, and live events: ``client.chat`` and ``client.events``."""

from __future__ import annotations

from collections.abc import Sequence

from ...models import ChatContext, Message
from ..calls import (
    Call,
    Endpoint,
    JSONMapping,
    decode,
    encode,
    given,
    idempotency,
    path,
    query,
    thread_path,
)
from ..streams import ChatEvent, LiveEvent, StreamCall, Streamed, chat_event, live_event

__all__ = ["ChatEndpoints", "EventEndpoints"]

_SSE = {"Accept": "text/event-stream"}


def _chat_body(
    content: str,
    assistant: str | None,
    images: Sequence[str] | None,
    metadata: JSONMapping | None,
    stream: bool,
) -> bytes:
    body = given({"assistant": assistant, "images": images, "metadata": metadata})
    return encode({"content": content, "stream": stream, **body})


class ChatEndpoints:
    """Messages answered by an assistant. One reply at a time per thread: a chat while
    another is generating raises ``ThreadBusy`` (after the client's retries)."""

    @Endpoint
    def send(
        self,
        space: str,
        thread: str,
        content: str,
        *,
        assistant: str | None = None,
        images: Sequence[str] | None = None,
        metadata: JSONMapping | None = None,
        idempotency_key: str | None = None,
    ) -> Call[Message]:
        """Append the user's message and return the assistant's stored reply (its metadata
        has the provider, model, token usage, latency and finish reason)."""
        return Call(
            "POST",
            thread_path(space, thread, "chat"),
            decode(Message),
            content=_chat_body(content, assistant, images, metadata, False),
            headers=idempotency(idempotency_key),
        )

    @Streamed
    def stream(
        self,
        space: str,
        thread: str,
        content: str,
        *,
        assistant: str | None = None,
        images: Sequence[str] | None = None,
        metadata: JSONMapping | None = None,
        idempotency_key: str | None = None,
    ) -> StreamCall[ChatEvent]:
        """The reply as it is written: a ``start`` event (the stored user message), ``delta``
        events, then ``done`` (the stored reply). Stopping early stops the model; what it
        wrote is kept, marked incomplete."""
        call: Call[None] = Call(
            "POST",
            thread_path(space, thread, "chat"),
            lambda _: None,
            content=_chat_body(content, assistant, images, metadata, True),
            headers={**idempotency(idempotency_key), **_SSE},
        )
        return StreamCall(call, chat_event)

    @Endpoint
    def context(
        self,
        space: str,
        thread: str,
        *,
        max_tokens: int | None = None,
        assistant: str | None = None,
    ) -> Call[ChatContext]:
        """What a chat would send the model now: the system prompt and the newest messages
        that fit ``max_tokens`` (the assistant's budget by default)."""
        return Call(
            "GET",
            thread_path(space, thread, "context"),
            decode(ChatContext),
            params=query(max_tokens=max_tokens, assistant=assistant),
        )


class EventEndpoints:
    """Live events as they happen. Resume after a disconnect with ``last_event_id``."""

    @Streamed
    def thread(
        self, space: str, thread: str, *, last_event_id: str | None = None
    ) -> StreamCall[LiveEvent]:
        """A thread's events: ``message.created``, ``state.updated``, ``chat.delta``..."""
        headers = {**_SSE, **({"Last-Event-ID": last_event_id} if last_event_id else {})}
        call: Call[None] = Call(
            "GET", thread_path(space, thread, "events"), lambda _: None, headers=headers
        )
        return StreamCall(call, live_event)

    @Streamed
    def space(self, space: str, *, last_event_id: str | None = None) -> StreamCall[LiveEvent]:
        """The events of every thread of a space."""
        headers = {**_SSE, **({"Last-Event-ID": last_event_id} if last_event_id else {})}
        call: Call[None] = Call(
            "GET", path("v1", "spaces", space, "events"), lambda _: None, headers=headers
        )
        return StreamCall(call, live_event)
