"""Messages of a thread: append one, append a batch, read a page, read or delete one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ...core.threads import messages_page
from ...models import (
    Message,
    MessageBatchCreate,
    MessageCreate,
    MessageDeleted,
    MessageListQuery,
    Page,
)
from ..deps import IDEMPOTENCY_OPENAPI, Ctx, MessageId, SpaceId, ThreadId
from ..queries import query_openapi, query_parser
from ..responses import idempotent_create, json_response, problems

router = APIRouter(prefix="/v1/spaces/{space_id}/threads/{thread_id}/messages", tags=["messages"])


@router.get(
    "",
    response_model=Page[Message],
    responses=problems(403, 404),
    openapi_extra=query_openapi(MessageListQuery),
)
async def list_messages(
    space_id: SpaceId,
    thread_id: ThreadId,
    ctx: Ctx,
    query: Annotated[MessageListQuery, Depends(query_parser(MessageListQuery))],
) -> Response:
    page = await ctx.services.threads.list_messages(ctx.principal, space_id, thread_id, query)
    return json_response(page)


@router.post(
    "",
    status_code=201,
    response_model=Message,
    responses=problems(403, 404, 409, 413),
    openapi_extra=IDEMPOTENCY_OPENAPI,
)
async def append_message(
    space_id: SpaceId, thread_id: ThreadId, body: MessageCreate, request: Request, ctx: Ctx
) -> Response:
    async def make() -> object:
        rows = await ctx.services.threads.append(ctx.principal, space_id, thread_id, [body])
        return rows[0]

    return await idempotent_create(ctx, request, body, make)


@router.post(
    "/batch",
    status_code=201,
    response_model=Page[Message],
    summary="Append up to 100 messages in one transaction",
    responses=problems(403, 404, 409, 413),
    openapi_extra=IDEMPOTENCY_OPENAPI,
)
async def append_messages(
    space_id: SpaceId, thread_id: ThreadId, body: MessageBatchCreate, request: Request, ctx: Ctx
) -> Response:
    async def make() -> object:
        threads = ctx.services.threads
        rows = await threads.append(ctx.principal, space_id, thread_id, body.messages)
        return messages_page(rows)

    return await idempotent_create(ctx, request, body, make)


@router.get("/{message_id}", response_model=Message, responses=problems(403, 404))
async def get_message(
    space_id: SpaceId, thread_id: ThreadId, message_id: MessageId, ctx: Ctx
) -> Response:
    threads = ctx.services.threads
    return json_response(await threads.get_message(ctx.principal, space_id, thread_id, message_id))


@router.delete(
    "/{message_id}",
    response_model=MessageDeleted,
    summary="Delete one message (the seq of the others does not change)",
    responses=problems(403, 404, 409),
)
async def delete_message(
    space_id: SpaceId, thread_id: ThreadId, message_id: MessageId, ctx: Ctx
) -> Response:
    threads = ctx.services.threads
    deleted = await threads.delete_message(ctx.principal, space_id, thread_id, message_id)
    return json_response(deleted)
