"""Messages of a thread: append one, append a batch, read a page."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from ...core.threads import MessageListParams, messages_page
from ...models import Message, MessageBatchCreate, MessageCreate, Page
from ..deps import IdempotencyKey, PrincipalDep, ServicesDep, SpaceId, ThreadId
from ..responses import idempotent_create, json_response, problems

router = APIRouter(prefix="/v1/spaces/{space_id}/threads/{thread_id}/messages", tags=["messages"])


@router.get("", response_model=Page[Message], responses=problems(403, 404))
async def list_messages(
    space_id: SpaceId,
    thread_id: ThreadId,
    principal: PrincipalDep,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    order: Annotated[
        Literal["asc", "desc"], Query(description="desc reads the newest messages first.")
    ] = "asc",
    after: str | None = None,
    before: str | None = None,
    include_private: bool = False,
    role: str | None = None,
) -> Response:
    params = MessageListParams(
        limit=limit,
        order=order,
        after=after,
        before=before,
        include_private=include_private,
        role=role,
    )
    page = await services.threads.list_messages(principal, space_id, thread_id, params)
    return json_response(page)


@router.post("", status_code=201, response_model=Message, responses=problems(403, 404, 409, 413))
async def append_message(
    space_id: SpaceId,
    thread_id: ThreadId,
    body: MessageCreate,
    request: Request,
    principal: PrincipalDep,
    services: ServicesDep,
    key: IdempotencyKey,
) -> Response:
    async def make() -> object:
        rows = await services.threads.append(principal, space_id, thread_id, [body])
        return rows[0]

    return await idempotent_create(services, principal, key, request, body, make)


@router.post(
    "/batch",
    status_code=201,
    response_model=Page[Message],
    summary="Append up to 100 messages in one transaction",
    responses=problems(403, 404, 409, 413),
)
async def append_messages(
    space_id: SpaceId,
    thread_id: ThreadId,
    body: MessageBatchCreate,
    request: Request,
    principal: PrincipalDep,
    services: ServicesDep,
    key: IdempotencyKey,
) -> Response:
    async def make() -> object:
        rows = await services.threads.append(principal, space_id, thread_id, body.messages)
        return messages_page(rows)

    return await idempotent_create(services, principal, key, request, body, make)
