"""Assistants of a space: the LLM configurations that answer in its threads."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ...models import Assistant, AssistantCreate, AssistantUpdate, Page, PageQuery
from ..deps import IDEMPOTENCY_OPENAPI, AssistantId, Ctx, SpaceId
from ..queries import query_openapi, query_parser
from ..responses import idempotent_create, json_response, problems

router = APIRouter(prefix="/v1/spaces/{space_id}/assistants", tags=["assistants"])


@router.post(
    "",
    status_code=201,
    response_model=Assistant,
    summary="Create an assistant (private, grants and unlock_phrase need an admin key)",
    responses=problems(403, 404, 409, 413),
    openapi_extra=IDEMPOTENCY_OPENAPI,
)
async def create_assistant(
    space_id: SpaceId, body: AssistantCreate, request: Request, ctx: Ctx
) -> Response:
    return await idempotent_create(
        ctx, request, body, lambda: ctx.services.assistants.create(ctx.principal, space_id, body)
    )


@router.get(
    "",
    response_model=Page[Assistant],
    responses=problems(404),
    openapi_extra=query_openapi(PageQuery),
)
async def list_assistants(
    space_id: SpaceId, ctx: Ctx, query: Annotated[PageQuery, Depends(query_parser(PageQuery))]
) -> Response:
    assistants = ctx.services.assistants
    return json_response(await assistants.list_assistants(ctx.principal, space_id, query))


@router.get("/{assistant_id}", response_model=Assistant, responses=problems(404))
async def get_assistant(space_id: SpaceId, assistant_id: AssistantId, ctx: Ctx) -> Response:
    return json_response(await ctx.services.assistants.get(ctx.principal, space_id, assistant_id))


@router.patch("/{assistant_id}", response_model=Assistant, responses=problems(403, 404, 409, 413))
async def update_assistant(
    space_id: SpaceId, assistant_id: AssistantId, body: AssistantUpdate, ctx: Ctx
) -> Response:
    row = await ctx.services.assistants.update(ctx.principal, space_id, assistant_id, body)
    return json_response(row)


@router.delete("/{assistant_id}", status_code=204, responses=problems(403, 404))
async def delete_assistant(space_id: SpaceId, assistant_id: AssistantId, ctx: Ctx) -> Response:
    await ctx.services.assistants.delete(ctx.principal, space_id, assistant_id)
    return Response(status_code=204)
