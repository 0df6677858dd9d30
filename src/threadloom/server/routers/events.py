"""Live events of a thread or of a whole space, as Server-Sent Events."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..deps import Ctx, SpaceId, ThreadId
from ..responses import problems
from ..streams import SSE_EVENT_SCHEMA, SSE_MEDIA_TYPE, live_event_response

router = APIRouter(prefix="/v1/spaces/{space_id}", tags=["events"])

_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-Sent Events: `thread.created`, `thread.updated`, "
        "`thread.deleted`, `message.created`, `state.updated`, `chat.delta`, `chat.done`, each "
        "with `data` `{type, thread_id, data}` and an `id` to resume from; on the space stream "
        "also `threads.purged` (`thread_id` null, `data` `{owner_id, count}`) after a purge by "
        "owner; `replay.incomplete` "
        "when a resumed stream could not replay everything; `lagged` (then the stream ends) "
        "when the client fell too far behind.",
        "content": {SSE_MEDIA_TYPE: {"schema": SSE_EVENT_SCHEMA}},
    }
}
_RESUME = {
    "parameters": [
        {
            "name": "Last-Event-ID",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "The id of the last event received: the stream resumes after it.",
        }
    ]
}


class _EventStream(Response):
    """Only documents the 200 response as an event stream (and not also as JSON)."""

    media_type = SSE_MEDIA_TYPE


def _last_event_id(request: Request) -> str | None:
    return request.headers.get("last-event-id") or request.query_params.get("last_event_id")


@router.get(
    "/threads/{thread_id}/events",
    summary="Follow a thread",
    response_class=_EventStream,
    responses={**problems(404), **_DOC},
    openapi_extra=_RESUME,
)
async def thread_events(
    space_id: SpaceId, thread_id: ThreadId, request: Request, ctx: Ctx
) -> Response:
    """Messages missed while disconnected are replayed from the store; other events from a
    bounded window. Across server processes only when `THREADLOOM_REDIS_URL` is set."""
    events = await ctx.services.live.thread_stream(
        ctx.principal, space_id, thread_id, _last_event_id(request)
    )
    return live_event_response(events)


@router.get(
    "/events",
    summary="Follow every thread of a space",
    response_class=_EventStream,
    responses={**problems(404), **_DOC},
    openapi_extra=_RESUME,
)
async def space_events(space_id: SpaceId, request: Request, ctx: Ctx) -> Response:
    events = await ctx.services.live.space_stream(ctx.principal, space_id, _last_event_id(request))
    return live_event_response(events)
