"""Threads of a space: create, list with filters, read, change, archive, restore, purge."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from ...core.threads import ThreadListParams
from ...models import (
    Page,
    Thread,
    ThreadCreate,
    ThreadUpdate,
    ThreadWithMessage,
    ThreadWithMessageCreate,
)
from ..deps import IdempotencyKey, PrincipalDep, ServicesDep, SpaceId, ThreadId
from ..responses import idempotent_create, json_response, problems

router = APIRouter(prefix="/v1/spaces/{space_id}/threads", tags=["threads"])


@router.post("", status_code=201, response_model=Thread, responses=problems(403, 404, 409, 413))
async def create_thread(
    space_id: SpaceId,
    body: ThreadCreate,
    request: Request,
    principal: PrincipalDep,
    services: ServicesDep,
    key: IdempotencyKey,
) -> Response:
    async def make() -> object:
        thread, _ = await services.threads.create(principal, space_id, body)
        return thread

    return await idempotent_create(services, principal, key, request, body, make)


@router.post(
    "/messages",
    status_code=201,
    response_model=ThreadWithMessage,
    summary="Create a thread and its first message atomically",
    responses=problems(403, 404, 409, 413),
)
async def create_thread_with_message(
    space_id: SpaceId,
    body: ThreadWithMessageCreate,
    request: Request,
    principal: PrincipalDep,
    services: ServicesDep,
    key: IdempotencyKey,
) -> Response:
    async def make() -> object:
        thread, messages = await services.threads.create(
            principal, space_id, body.thread, [body.message], loc=("thread",)
        )
        return {"thread": thread, "message": messages[0]}

    return await idempotent_create(services, principal, key, request, body, make)


@router.get(
    "",
    response_model=Page[Thread],
    responses=problems(404),
    description="Filter by metadata with `metadata[KEY]=VALUE` (exact match on the value's "
    "text form; several allowed, all must match).",
)
async def list_threads(
    space_id: SpaceId,
    request: Request,
    principal: PrincipalDep,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    status: Literal["active", "archived", "all"] = "active",
    owner_id: str | None = None,
    q: Annotated[str | None, Query(description="Substring of the title.")] = None,
    order_by: Literal["updated_at", "created_at"] = "updated_at",
    order: Literal["asc", "desc"] = "desc",
    after: str | None = None,
    before: str | None = None,
) -> Response:
    metadata = [
        (name[len("metadata[") : -1], value)
        for name, value in request.query_params.multi_items()
        if name.startswith("metadata[") and name.endswith("]")
    ]
    params = ThreadListParams(
        limit=limit,
        status=status,
        owner_id=owner_id,
        metadata=metadata,
        q=q,
        order_by=order_by,
        order=order,
        after=after,
        before=before,
    )
    return json_response(await services.threads.list_threads(principal, space_id, params))


@router.get("/{thread_id}", response_model=Thread, responses=problems(404))
async def get_thread(
    space_id: SpaceId, thread_id: ThreadId, principal: PrincipalDep, services: ServicesDep
) -> Response:
    return json_response(await services.threads.get(principal, space_id, thread_id))


@router.patch("/{thread_id}", response_model=Thread, responses=problems(403, 404, 413))
async def update_thread(
    space_id: SpaceId,
    thread_id: ThreadId,
    body: ThreadUpdate,
    principal: PrincipalDep,
    services: ServicesDep,
) -> Response:
    return json_response(await services.threads.update(principal, space_id, thread_id, body))


@router.delete(
    "/{thread_id}",
    response_model=Thread,
    summary="Archive a thread (reversible), or purge it with purge=true",
    responses={204: {"description": "Purged"}, **problems(403, 404)},
)
async def delete_thread(
    space_id: SpaceId,
    thread_id: ThreadId,
    principal: PrincipalDep,
    services: ServicesDep,
    purge: Annotated[
        bool, Query(description="Delete the thread and all its messages for good.")
    ] = False,
) -> Response:
    if purge:
        await services.threads.purge(principal, space_id, thread_id)
        return Response(status_code=204)
    return json_response(await services.threads.set_status(principal, space_id, thread_id, True))


@router.post("/{thread_id}/restore", response_model=Thread, responses=problems(403, 404))
async def restore_thread(
    space_id: SpaceId, thread_id: ThreadId, principal: PrincipalDep, services: ServicesDep
) -> Response:
    return json_response(await services.threads.set_status(principal, space_id, thread_id, False))
