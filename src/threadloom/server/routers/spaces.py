"""Spaces (tenants): created, changed and deleted by admin keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from ...models import Page, Space, SpaceCreate, SpaceUpdate
from ..deps import IdempotencyKey, PrincipalDep, ServicesDep, SpaceId
from ..responses import idempotent_create, json_response, problems

router = APIRouter(prefix="/v1/spaces", tags=["spaces"])


@router.post("", status_code=201, response_model=Space, responses=problems(403, 409))
async def create_space(
    body: SpaceCreate,
    request: Request,
    principal: PrincipalDep,
    services: ServicesDep,
    key: IdempotencyKey,
) -> Response:
    return await idempotent_create(
        services, principal, key, request, body, lambda: services.spaces.create(principal, body)
    )


@router.get("", response_model=Page[Space], responses=problems())
async def list_spaces(
    principal: PrincipalDep,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    after: str | None = None,
    before: str | None = None,
) -> Response:
    return json_response(await services.spaces.list_spaces(principal, limit, after, before))


@router.get("/{space_id}", response_model=Space, responses=problems(404))
async def get_space(space_id: SpaceId, principal: PrincipalDep, services: ServicesDep) -> Response:
    return json_response(await services.spaces.get(principal, space_id))


@router.patch("/{space_id}", response_model=Space, responses=problems(403, 404))
async def update_space(
    space_id: SpaceId, body: SpaceUpdate, principal: PrincipalDep, services: ServicesDep
) -> Response:
    return json_response(await services.spaces.update(principal, space_id, body))


@router.delete("/{space_id}", status_code=204, responses=problems(403, 404, 409))
async def delete_space(
    space_id: SpaceId,
    principal: PrincipalDep,
    services: ServicesDep,
    force: Annotated[
        bool, Query(description="Also delete every thread and message in the space.")
    ] = False,
) -> Response:
    await services.spaces.delete(principal, space_id, force)
    return Response(status_code=204)
