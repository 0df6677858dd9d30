"""Threads of a space: create, list with filters, read, change, archive, restore, purge."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from ...models import (
    Page,
    Thread,
    ThreadCreate,
    ThreadListQuery,
    ThreadUpdate,
    ThreadWithMessage,
    ThreadWithMessageBody,
)
from ...validation import FILTER_KEY_MAX_CHARS, FILTER_VALUE_MAX_CHARS, MAX_METADATA_FILTERS
from ..deps import IDEMPOTENCY_OPENAPI, Ctx, SpaceId, ThreadId
from ..queries import query_openapi, query_parser
from ..responses import idempotent_create, json_response, problems

router = APIRouter(prefix="/v1/spaces/{space_id}/threads", tags=["threads"])
_parse_list_query = query_parser(ThreadListQuery)


async def thread_list_query(request: Request) -> ThreadListQuery:
    query = await _parse_list_query(request)
    metadata = tuple(
        (name[len("metadata[") : -1], value)
        for name, value in request.query_params.multi_items()
        if name.startswith("metadata[") and name.endswith("]")
    )
    return query.model_copy(update={"metadata": metadata}) if metadata else query


_LIST_OPENAPI = query_openapi(ThreadListQuery)
_LIST_OPENAPI["parameters"].append(
    {
        "name": "metadata[KEY]",
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": "Only threads whose metadata KEY holds this scalar: a string equal "
        "to it, true/false, or a number of the same value (1e+20 matches "
        "100000000000000000000); null, objects and arrays never match. Up to "
        f"{MAX_METADATA_FILTERS} may be given; all must match. KEY: 1 to "
        f"{FILTER_KEY_MAX_CHARS} printable characters other than quote and backslash; VALUE: "
        f"at most {FILTER_VALUE_MAX_CHARS} characters.",
    }
)


@router.post(
    "",
    status_code=201,
    response_model=Thread,
    responses=problems(403, 404, 409, 413),
    openapi_extra=IDEMPOTENCY_OPENAPI,
)
async def create_thread(
    space_id: SpaceId, body: ThreadCreate, request: Request, ctx: Ctx
) -> Response:
    async def make() -> object:
        thread, _ = await ctx.services.threads.create(ctx.principal, space_id, body)
        return thread

    return await idempotent_create(ctx, request, body, make)


@router.post(
    "/messages",
    status_code=201,
    response_model=ThreadWithMessage,
    summary="Create a thread and its first message atomically",
    description='The body is the first message, flat (`{"content": "Hello"}`, the '
    'thread\'s fields under `thread`) or nested (`{"thread": {...}, "message": {...}}`); '
    "the role defaults to `user` in both.",
    responses=problems(403, 404, 409, 413),
    openapi_extra=IDEMPOTENCY_OPENAPI,
)
async def create_thread_with_message(
    space_id: SpaceId, body: ThreadWithMessageBody, request: Request, ctx: Ctx
) -> Response:
    form = body.root

    async def make() -> object:
        thread, messages = await ctx.services.threads.create(
            ctx.principal,
            space_id,
            form.thread,
            [form.first_message],
            loc=("thread",),
            message_loc=form.message_loc,
        )
        return {"thread": thread, "message": messages[0]}

    return await idempotent_create(ctx, request, body, make)


@router.get(
    "",
    response_model=Page[Thread],
    responses=problems(404),
    openapi_extra=_LIST_OPENAPI,
)
async def list_threads(
    space_id: SpaceId,
    ctx: Ctx,
    query: Annotated[ThreadListQuery, Depends(thread_list_query)],
) -> Response:
    return json_response(await ctx.services.threads.list_threads(ctx.principal, space_id, query))


@router.get("/{thread_id}", response_model=Thread, responses=problems(404))
async def get_thread(space_id: SpaceId, thread_id: ThreadId, ctx: Ctx) -> Response:
    return json_response(await ctx.services.threads.get(ctx.principal, space_id, thread_id))


@router.patch("/{thread_id}", response_model=Thread, responses=problems(403, 404, 413))
async def update_thread(
    space_id: SpaceId, thread_id: ThreadId, body: ThreadUpdate, ctx: Ctx
) -> Response:
    row = await ctx.services.threads.update(ctx.principal, space_id, thread_id, body)
    return json_response(row)


@router.delete(
    "/{thread_id}",
    response_model=Thread,
    summary="Archive a thread (reversible), or purge it with purge=true",
    responses={204: {"description": "Purged"}, **problems(403, 404)},
)
async def delete_thread(
    space_id: SpaceId,
    thread_id: ThreadId,
    ctx: Ctx,
    purge: Annotated[
        bool, Query(description="Delete the thread and all its messages for good.")
    ] = False,
) -> Response:
    threads = ctx.services.threads
    if purge:
        await threads.purge(ctx.principal, space_id, thread_id)
        return Response(status_code=204)
    return json_response(await threads.set_status(ctx.principal, space_id, thread_id, True))


@router.post("/{thread_id}/restore", response_model=Thread, responses=problems(403, 404))
async def restore_thread(space_id: SpaceId, thread_id: ThreadId, ctx: Ctx) -> Response:
    threads = ctx.services.threads
    return json_response(await threads.set_status(ctx.principal, space_id, thread_id, False))
