"""The original threadmem library's server API (``/v1/rolethreads``), in its own JSON shapes,
on the space of the caller's key (or ``default``)."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field, ValidationError
from starlette.responses import Response

from ..._threadmem.schemas import (
    V1CreateRoleThread,
    V1DeleteRole,
    V1PostRoleMessage,
    V1Role,
    V1RoleMessage,
    V1RoleThread,
    V1RoleThreadDeleted,
    V1RoleThreadFilter,
    V1RoleThreads,
    V1UpdateRoleThread,
)
from ...core.spaces import home_space
from ...errors import ValidationFailed
from ...validation import STORABLE_BODY
from ..deps import IDEMPOTENCY_OPENAPI, Ctx, ThreadId
from ..queries import query_openapi, query_parser
from ..responses import idempotent_create, json_response, problems

router = APIRouter(prefix="/v1/rolethreads", tags=["original threadmem API"])


class RoleThreadListQuery(V1RoleThreadFilter):
    input_loc = "query"

    messages: bool = Field(
        True, description="Include every thread's messages (as the original did)."
    )


_parse_list_query = query_parser(RoleThreadListQuery)


def _body_error(detail: str, errors: list[dict[str, object]] | None = None) -> ValidationFailed:
    return ValidationFailed(detail, errors=errors or [{"loc": ["body"], "msg": detail}])


async def list_query(request: Request) -> RoleThreadListQuery:
    """The query string, over the filters the original client sends as a JSON body."""
    query = await _parse_list_query(request)
    raw = await request.body()
    if not raw.strip():
        return query
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _body_error("the request body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise _body_error("the request body must be a JSON object of filters")
    try:
        from_body = V1RoleThreadFilter.model_validate(payload)
    except ValidationError as exc:
        errors: list[dict[str, object]] = [
            {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()
        ]
        raise _body_error("the filters in the request body are not valid", errors) from None
    given = {name: getattr(from_body, name) for name in from_body.model_fields_set}
    given.update({name: getattr(query, name) for name in query.model_fields_set})
    return query.model_copy(update=given)


@router.post(
    "",
    response_model=V1RoleThread,
    responses=problems(403, 409, 413),
    openapi_extra=IDEMPOTENCY_OPENAPI,
)
async def create_role_thread(body: V1CreateRoleThread, request: Request, ctx: Ctx) -> Response:
    async def make() -> object:
        return await ctx.services.rolethreads.create(ctx.principal, home_space(ctx.principal), body)

    return await idempotent_create(ctx, request, body, make, 200)


@router.get(
    "",
    response_model=V1RoleThreads,
    responses=problems(404),
    openapi_extra=query_openapi(RoleThreadListQuery),
)
async def list_role_threads(
    ctx: Ctx, query: Annotated[RoleThreadListQuery, Depends(list_query)]
) -> Response:
    threads = await ctx.services.rolethreads.list_threads(
        ctx.principal, home_space(ctx.principal), query, with_messages=query.messages
    )
    return json_response(threads)


@router.get("/{thread_id}", response_model=V1RoleThread, responses=problems(404))
async def get_role_thread(thread_id: ThreadId, ctx: Ctx) -> Response:
    thread = await ctx.services.rolethreads.get(ctx.principal, home_space(ctx.principal), thread_id)
    return json_response(thread)


@router.put(
    "/{thread_id}",
    response_model=V1RoleThread,
    summary="Update a thread, or create it when it does not exist",
    responses=problems(403, 404, 409, 413),
)
async def update_role_thread(thread_id: ThreadId, body: V1UpdateRoleThread, ctx: Ctx) -> Response:
    rolethreads = ctx.services.rolethreads
    return json_response(
        await rolethreads.put(ctx.principal, home_space(ctx.principal), thread_id, body)
    )


@router.delete(
    "/{thread_id}",
    response_model=V1RoleThreadDeleted,
    summary="Delete a thread and its messages for good",
    responses=problems(403, 404),
)
async def delete_role_thread(thread_id: ThreadId, ctx: Ctx) -> Response:
    await ctx.services.rolethreads.delete(ctx.principal, home_space(ctx.principal), thread_id)
    return json_response({"message": "Thread deleted successfully"})


@router.post(
    "/{thread_id}/msgs",
    response_model=V1RoleMessage,
    summary="Append a message: {role, msg, images} or a whole V1RoleMessage",
    responses=problems(403, 404, 409, 413),
    openapi_extra=IDEMPOTENCY_OPENAPI,
)
async def post_role_message(
    thread_id: ThreadId, body: V1PostRoleMessage, request: Request, ctx: Ctx
) -> Response:
    async def make() -> object:
        rolethreads = ctx.services.rolethreads
        return await rolethreads.post_message(
            ctx.principal, home_space(ctx.principal), thread_id, body
        )

    return await idempotent_create(ctx, request, body, make, 200)


@router.post(
    "/{thread_id}/roles",
    response_model=V1Role,
    summary="Add a role to the thread's role mapping (409 when it is there already)",
    responses=problems(403, 404, 409),
)
async def add_role(
    thread_id: ThreadId, body: Annotated[V1Role, STORABLE_BODY], ctx: Ctx
) -> Response:
    rolethreads = ctx.services.rolethreads
    return json_response(
        await rolethreads.add_role(ctx.principal, home_space(ctx.principal), thread_id, body)
    )


@router.delete(
    "/{thread_id}/roles",
    response_model=V1Role,
    summary="Remove a role, named in a JSON body {name} or by ?name=",
    responses=problems(403, 404),
)
async def remove_role(
    thread_id: ThreadId,
    ctx: Ctx,
    body: V1DeleteRole | None = None,
    name: Annotated[str | None, Query(description="The role, instead of a body.")] = None,
) -> Response:
    if body is not None and name is not None and body.name != name:
        raise ValidationFailed(
            f"the role in the body ({body.name!r}) and in the query ({name!r}) differ",
            errors=[{"loc": ["query", "name"], "msg": "differs from the body"}],
        )
    role = body.name if body is not None else name
    if role is None:
        raise ValidationFailed(
            'name the role to remove: a JSON body {"name": ...} or ?name=',
            errors=[{"loc": ["body", "name"], "msg": "Field required", "type": "missing"}],
        )
    rolethreads = ctx.services.rolethreads
    return json_response(
        await rolethreads.remove_role(ctx.principal, home_space(ctx.principal), thread_id, role)
    )
