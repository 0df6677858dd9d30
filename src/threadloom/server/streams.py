"""A chat reply as a response: Server-Sent Events, plain text chunks, or one JSON document.

Whatever way the reply is read, the reader going away (the client disconnecting) abandons
the run: the model stops and what it said is stored, marked incomplete.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.responses import StreamingResponse

from ..core.chat import ChatDelta, ChatRun
from ..core.live import LiveEvent
from ..errors import PROBLEM_BASE, ThreadloomError
from ..logs import describe_exception, redacted
from .metrics import stream_closed, stream_opened

__all__ = [
    "SSE_EVENT_SCHEMA",
    "SSE_MEDIA_TYPE",
    "chat_event_response",
    "chat_text_response",
    "event",
    "live_event_response",
    "replayed_event_response",
    "wants_event_stream",
]

log = logging.getLogger("threadloom.server")

SSE_MEDIA_TYPE = "text/event-stream"
SSE_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "One Server-Sent Event (OpenAPI describes an event stream event by event).",
    "properties": {
        "event": {"type": "string"},
        "data": {"type": "string", "description": "JSON text."},
        "id": {"type": "string"},
        "retry": {"type": "integer", "minimum": 0},
    },
    "required": ["data"],
}
"""What each event of every event stream here looks like, for the OpenAPI document."""
PING_SECONDS = 15
_NO_BUFFERING = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def wants_event_stream(accept: str | None) -> bool:
    return bool(accept) and SSE_MEDIA_TYPE in (accept or "").lower()


def event(name: str, data: Any, event_id: str | None = None) -> ServerSentEvent:
    return ServerSentEvent(orjson.dumps(data).decode(), event=name, id=event_id)


def _error_problem(exc: Exception, instance: str) -> dict[str, Any]:
    if isinstance(exc, ThreadloomError):
        return exc.to_problem(instance)
    log.error("a chat stream failed", exc_info=redacted(exc))
    return {
        "type": PROBLEM_BASE + "internal-error",
        "title": "Internal server error",
        "status": 500,
        "detail": "the reply failed; it has been logged",
        "instance": instance,
    }


async def _chat_events(run: ChatRun, instance: str) -> AsyncIterator[ServerSentEvent]:
    stream_opened()
    try:
        yield event("start", {"user_message": run.user_message, "assistant": run.assistant["id"]})
        async for item in run.events():
            if isinstance(item, ChatDelta):
                yield event("delta", {"text": item.text})
            else:
                yield event("done", item.message)
    except Exception as exc:
        yield event("error", _error_problem(exc, instance))
    finally:
        stream_closed()
        run.abandon()


def chat_event_response(
    run: ChatRun, instance: str, headers: dict[str, str] | None = None
) -> EventSourceResponse:
    """``start`` (the stored user message), ``delta`` events, then ``done`` or ``error``."""
    return EventSourceResponse(
        _chat_events(run, instance),
        headers={**_NO_BUFFERING, **(headers or {})},
        ping=PING_SECONDS,
    )


def replayed_event_response(message: bytes) -> EventSourceResponse:
    """The stream of a chat already answered (an Idempotency-Key replay): its ``done``."""

    async def once() -> AsyncIterator[ServerSentEvent]:
        yield ServerSentEvent(message.decode(), event="done")

    return EventSourceResponse(once(), headers={**_NO_BUFFERING, "Idempotent-Replayed": "true"})


async def _chat_text(run: ChatRun) -> AsyncIterator[str]:
    try:
        async for item in run.events():
            if isinstance(item, ChatDelta):
                yield item.text
    except Exception as exc:
        # The status line is sent: all a plain text reader can be told is that it ended.
        log.warning("a plain text chat stream failed: %s", describe_exception(exc))
    finally:
        run.abandon()


def chat_text_response(run: ChatRun) -> StreamingResponse:
    return StreamingResponse(
        _chat_text(run), media_type="text/plain; charset=utf-8", headers=_NO_BUFFERING
    )


async def _live(events: AsyncIterator[LiveEvent | None]) -> AsyncIterator[ServerSentEvent]:
    stream_opened()
    try:
        async for item in events:
            if item is None:
                yield ServerSentEvent(comment="keep-alive")
            else:
                yield event(item.type, item.data, item.id)
                if item.type == "lagged":
                    return
    finally:
        stream_closed()


def live_event_response(events: AsyncIterator[LiveEvent | None]) -> EventSourceResponse:
    """A thread's or a space's events; ``id`` of each is what ``Last-Event-ID`` resumes from."""
    return EventSourceResponse(_live(events), headers=_NO_BUFFERING, ping=PING_SECONDS)
