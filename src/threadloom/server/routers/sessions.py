"""The original chat-session API, exactly as it was specified: a session is a thread of the
default space (or of the caller's key's space), answered by the space's default assistant."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from ..._version import __version__
from ...ids import ID_PATTERN
from ...models import (
    AskRequest,
    AskResponse,
    SessionChatRequest,
    SessionCreated,
    SessionHistory,
    SessionList,
)
from ..deps import Ctx
from ..responses import json_response, problems
from ..streams import (
    SSE_EVENT_SCHEMA,
    SSE_MEDIA_TYPE,
    chat_event_response,
    chat_text_response,
    wants_event_stream,
)

router = APIRouter(tags=["original session API"])


@router.get("/", summary="Welcome")
async def welcome() -> Response:
    return json_response(
        {
            "message": "Welcome to the OpenAI Threaded Assistant API!",
            "version": __version__,
            "docs": "/docs",
        }
    )


@router.post(
    "/ask",
    response_model=AskResponse,
    summary="Ask in a session and get the whole reply",
    responses=problems(403, 409, 413, 502, 503, 504),
)
async def ask(body: AskRequest, ctx: Ctx) -> Response:
    """Continues the session's conversation, creating the session on first use."""
    session_id, run = await ctx.services.sessions.start(
        ctx.principal, body.session_id, body.user_input
    )
    reply = await run.result()
    return json_response({"session_id": session_id, "response": reply["content"]})


@router.post(
    "/new_session",
    response_model=SessionCreated,
    summary="Start a session",
    responses=problems(403),
)
async def new_session(ctx: Ctx) -> Response:
    return json_response({"session_id": await ctx.services.sessions.new(ctx.principal)})


@router.post(
    "/chat",
    summary="Chat in a session, streaming the reply",
    responses={
        **problems(403, 409, 413, 502, 503, 504),
        200: {
            "description": "The reply as it is generated: plain text chunks, or Server-Sent "
            "Events (`start`, `delta`, `done`, `error`) when the client accepts "
            "`text/event-stream`.",
            "content": {"text/plain": {}, SSE_MEDIA_TYPE: {"schema": SSE_EVENT_SCHEMA}},
        },
    },
)
async def chat(body: SessionChatRequest, request: Request, ctx: Ctx) -> Response:
    _, run = await ctx.services.sessions.start(ctx.principal, body.session_id, body.message)
    if wants_event_stream(request.headers.get("accept")):
        return chat_event_response(run, request.url.path)
    return chat_text_response(run)


@router.get(
    "/sessions",
    response_model=SessionList,
    summary="The sessions, most recently used first",
    responses=problems(403),
)
async def sessions(ctx: Ctx, limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> Response:
    """Admin keys only when the server requires keys."""
    ids = await ctx.services.sessions.ids(ctx.principal, limit)
    return json_response({"sessions": ids})


@router.get(
    "/session/{session_id}/history",
    response_model=SessionHistory,
    summary="A session's turns: each input with the reply to it",
    responses=problems(404),
)
async def history(
    session_id: Annotated[str, Path(pattern=ID_PATTERN)],
    ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> Response:
    """The newest `limit` turns, oldest first; `output` is null for a message not answered."""
    turns = await ctx.services.sessions.history(ctx.principal, session_id, limit)
    return json_response({"history": turns})
