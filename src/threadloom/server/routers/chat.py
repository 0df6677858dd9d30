"""Chat on a thread, and the context a chat would send the model."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ...core.chat import ChatKey
from ...core.idempotency import fingerprint
from ...models import ChatContext, ChatCreate, ContextQuery, Message
from ..deps import IDEMPOTENCY_OPENAPI, Ctx, SpaceId, ThreadId
from ..queries import query_openapi, query_parser
from ..responses import RawJSONResponse, json_response, problems
from ..streams import SSE_EVENT_SCHEMA, SSE_MEDIA_TYPE, chat_event_response, replayed_event_response

router = APIRouter(prefix="/v1/spaces/{space_id}/threads/{thread_id}", tags=["chat"])

_STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "With `stream: true`: Server-Sent Events. `start` carries the stored "
        "user message, `delta` events the text as it arrives, then `done` the stored reply "
        "or `error` a problem document.",
        "content": {SSE_MEDIA_TYPE: {"schema": SSE_EVENT_SCHEMA}},
    }
}


@router.post(
    "/chat",
    status_code=201,
    response_model=Message,
    summary="Send a message and get the assistant's reply",
    responses={**problems(403, 404, 409, 413, 502, 503, 504), **_STREAM_DOC},
    openapi_extra=IDEMPOTENCY_OPENAPI,
)
async def chat(
    space_id: SpaceId, thread_id: ThreadId, body: ChatCreate, request: Request, ctx: Ctx
) -> Response:
    """Appends the user's message, answers it with the assistant's model and stores the
    reply as an `assistant` message whose metadata has the provider, model, token usage,
    latency and finish reason. One reply at a time per thread: 409 with `Retry-After`."""
    services, principal = ctx.services, ctx.principal
    key = ctx.idempotency_key
    claim = None
    if key is not None:
        request_hash = fingerprint(request.method, request.url.path, body.model_dump(mode="json"))
        claim = ChatKey(principal.scope, key, request_hash)
        recorded = await services.chat.recorded_reply(claim)
        if recorded is not None:
            reply = orjson.dumps(recorded)
            if body.stream:
                return replayed_event_response(reply)
            headers = {"Idempotent-Replayed": "true"}
            return RawJSONResponse(reply, status_code=201, headers=headers)
    try:
        run = await services.chat.start(
            principal,
            space_id,
            thread_id,
            body.content,
            assistant=body.assistant,
            images=body.images,
            metadata=body.metadata,
            claim=claim,
        )
    except BaseException:
        services.chat.settle(claim)
        raise
    if body.stream:
        return chat_event_response(run, request.url.path)
    return json_response(await run.result(), 201)


@router.get(
    "/context",
    response_model=ChatContext,
    summary="What a chat would send the model now",
    responses=problems(403, 404),
    openapi_extra=query_openapi(ContextQuery),
)
async def context(
    space_id: SpaceId,
    thread_id: ThreadId,
    ctx: Ctx,
    query: Annotated[ContextQuery, Depends(query_parser(ContextQuery))],
) -> Response:
    """The assistant's system prompt and the newest messages that fit `max_tokens` (the
    assistant's context budget by default), counted with the documented estimate."""
    built = await ctx.services.chat.context(
        ctx.principal, space_id, thread_id, query.assistant, query.max_tokens
    )
    return json_response(built)
