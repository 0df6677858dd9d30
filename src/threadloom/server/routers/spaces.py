"""Spaces (tenants): created, changed and deleted by admin keys; an owner's threads purged
by the space's writer keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from ...models import Page, PageQuery, Purge, PurgeCreate, Space, SpaceCreate, SpaceUpdate
from ..deps import IDEMPOTENCY_OPENAPI, Ctx, SpaceId
from ..queries import query_openapi, query_parser
from ..responses import idempotent_create, json_response, problems

router = APIRouter(prefix="/v1/spaces", tags=["spaces"])


@router.post(
    "",
    status_code=201,
    response_model=Space,
    responses=problems(403, 409),
    openapi_extra=IDEMPOTENCY_OPENAPI,
)
async def create_space(body: SpaceCreate, request: Request, ctx: Ctx) -> Response:
    return await idempotent_create(
        ctx, request, body, lambda: ctx.services.spaces.create(ctx.principal, body)
    )


@router.get(
    "", response_model=Page[Space], responses=problems(), openapi_extra=query_openapi(PageQuery)
)
async def list_spaces(
    ctx: Ctx, query: Annotated[PageQuery, Depends(query_parser(PageQuery))]
) -> Response:
    return json_response(await ctx.services.spaces.list_spaces(ctx.principal, query))


@router.get("/{space_id}", response_model=Space, responses=problems(404))
async def get_space(space_id: SpaceId, ctx: Ctx) -> Response:
    return json_response(await ctx.services.spaces.get(ctx.principal, space_id))


@router.patch("/{space_id}", response_model=Space, responses=problems(403, 404))
async def update_space(space_id: SpaceId, body: SpaceUpdate, ctx: Ctx) -> Response:
    return json_response(await ctx.services.spaces.update(ctx.principal, space_id, body))


@router.delete("/{space_id}", status_code=204, responses=problems(403, 404, 409))
async def delete_space(
    space_id: SpaceId,
    ctx: Ctx,
    force: Annotated[
        bool, Query(description="Also delete every thread and message in the space.")
    ] = False,
) -> Response:
    await ctx.services.spaces.delete(ctx.principal, space_id, force)
    return Response(status_code=204)


@router.post(
    "/{space_id}/purge",
    response_model=Purge,
    summary="Delete every thread of one owner",
    description="Deletes every thread of `owner_id` in the space, with its messages and "
    "state (a data subject's deletion), and answers how many. Writer keys of the space or "
    "admin keys. Running it again deletes nothing more.",
    responses=problems(403, 404),
)
async def purge_owner(space_id: SpaceId, body: PurgeCreate, ctx: Ctx) -> Response:
    deleted = await ctx.services.retention.purge_owner(ctx.principal, space_id, body.owner_id)
    return json_response({"object": "purge", "owner_id": body.owner_id, "deleted": deleted})
