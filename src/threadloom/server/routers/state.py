"""Thread state: read with an ETag, replace or merge-patch with If-Match, list old versions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header
from starlette.responses import Response

from ...core.state import etag
from ...models import Page, PageQuery, State, StatePut, StateVersion
from ...store.rows import StateRow
from ...validation import STORABLE_BODY
from ..deps import Ctx, SpaceId, ThreadId
from ..queries import query_openapi, query_parser
from ..responses import json_response, problems

router = APIRouter(prefix="/v1/spaces/{space_id}/threads/{thread_id}/state", tags=["state"])

IfMatch = Annotated[
    str | None,
    Header(description='The ETag of the state you read, e.g. "3"; a mismatch answers 412.'),
]


def _state_response(row: StateRow) -> Response:
    return json_response(row, headers={"ETag": etag(row["version"])})


@router.get("", response_model=State, responses=problems(404))
async def get_state(space_id: SpaceId, thread_id: ThreadId, ctx: Ctx) -> Response:
    return _state_response(await ctx.services.state.get(ctx.principal, space_id, thread_id))


@router.put("", response_model=State, responses=problems(403, 404, 409, 412, 413))
async def put_state(
    space_id: SpaceId,
    thread_id: ThreadId,
    body: StatePut,
    ctx: Ctx,
    if_match: IfMatch = None,
) -> Response:
    state = ctx.services.state
    row = await state.put(ctx.principal, space_id, thread_id, body.state, if_match)
    return _state_response(row)


@router.patch(
    "",
    response_model=State,
    summary="Apply an RFC 7396 JSON merge patch to the state",
    responses=problems(403, 404, 409, 412, 413),
)
async def patch_state(
    space_id: SpaceId,
    thread_id: ThreadId,
    ctx: Ctx,
    patch: Annotated[Any, STORABLE_BODY, Body(media_type="application/merge-patch+json")],
    if_match: IfMatch = None,
) -> Response:
    row = await ctx.services.state.patch(ctx.principal, space_id, thread_id, patch, if_match)
    return _state_response(row)


@router.get(
    "/history",
    response_model=Page[StateVersion],
    summary="Earlier versions of the state, newest first",
    responses=problems(404),
    openapi_extra=query_openapi(PageQuery),
)
async def state_history(
    space_id: SpaceId,
    thread_id: ThreadId,
    ctx: Ctx,
    query: Annotated[PageQuery, Depends(query_parser(PageQuery))],
) -> Response:
    page = await ctx.services.state.history(ctx.principal, space_id, thread_id, query)
    return json_response(page)
