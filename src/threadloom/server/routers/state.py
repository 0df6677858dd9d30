"""Thread state: read with an ETag, replace or merge-patch with If-Match, list old versions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query
from starlette.responses import Response

from ...core.state import etag
from ...models import Page, State, StatePut, StateVersion
from ..deps import PrincipalDep, ServicesDep, SpaceId, ThreadId
from ..responses import json_response, problems

router = APIRouter(prefix="/v1/spaces/{space_id}/threads/{thread_id}/state", tags=["state"])

IfMatch = Annotated[
    str | None,
    Header(description='The ETag of the state you read, e.g. "3"; a mismatch answers 412.'),
]


def _state_response(row: dict[str, Any]) -> Response:
    return json_response(row, headers={"ETag": etag(row["version"])})


@router.get("", response_model=State, responses=problems(404))
async def get_state(
    space_id: SpaceId, thread_id: ThreadId, principal: PrincipalDep, services: ServicesDep
) -> Response:
    return _state_response(await services.state.get(principal, space_id, thread_id))


@router.put("", response_model=State, responses=problems(403, 404, 409, 412, 413))
async def put_state(
    space_id: SpaceId,
    thread_id: ThreadId,
    body: StatePut,
    principal: PrincipalDep,
    services: ServicesDep,
    if_match: IfMatch = None,
) -> Response:
    row = await services.state.put(principal, space_id, thread_id, body.state, if_match)
    return _state_response(row)


@router.patch(
    "",
    response_model=State,
    summary="Apply an RFC 7396 JSON merge patch to the state",
    openapi_extra={
        "requestBody": {
            "content": {"application/merge-patch+json": {"schema": {}}},
            "required": True,
        }
    },
    responses=problems(403, 404, 409, 412, 413),
)
async def patch_state(
    space_id: SpaceId,
    thread_id: ThreadId,
    principal: PrincipalDep,
    services: ServicesDep,
    patch: Annotated[Any, Body(media_type="application/merge-patch+json")],
    if_match: IfMatch = None,
) -> Response:
    row = await services.state.patch(principal, space_id, thread_id, patch, if_match)
    return _state_response(row)


@router.get(
    "/history",
    response_model=Page[StateVersion],
    summary="Earlier versions of the state, newest first",
    responses=problems(404),
)
async def state_history(
    space_id: SpaceId,
    thread_id: ThreadId,
    principal: PrincipalDep,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    after: str | None = None,
    before: str | None = None,
) -> Response:
    page = await services.state.history(principal, space_id, thread_id, limit, after, before)
    return json_response(page)
