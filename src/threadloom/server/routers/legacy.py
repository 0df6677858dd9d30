"""The original minimal thread API, exactly as it was specified, on the default space
(or the space of the caller's key)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from ...core.spaces import home_space
from ...errors import ValidationFailed
from ...models import (
    LegacyThread,
    LegacyThreadCreate,
    LegacyThreadUpdate,
    MessageCreate,
    ThreadCreate,
)
from ..deps import IDEMPOTENCY_OPENAPI, Ctx, ThreadId
from ..responses import idempotent_create, json_response, problems

router = APIRouter(prefix="/threads", tags=["original thread API"])


@router.post(
    "/",
    response_model=LegacyThread,
    responses=problems(403, 409, 413),
    openapi_extra=IDEMPOTENCY_OPENAPI,
)
async def create_thread(body: LegacyThreadCreate, request: Request, ctx: Ctx) -> Response:
    principal, services = ctx.principal, ctx.services

    async def make() -> object:
        messages = []
        if body.initial_message is not None:
            services.threads.limits.content(body.initial_message, ("initial_message",))
            messages.append(MessageCreate(role="user", content=body.initial_message))
        thread, _ = await services.threads.create(
            principal,
            home_space(principal),
            ThreadCreate(id=body.thread_id, state=body.state),
            messages,
        )
        return {"thread_id": thread["id"], "state": thread["state"]}

    return await idempotent_create(ctx, request, body, make, 200)


@router.get("/{thread_id}", response_model=LegacyThread, responses=problems(404))
async def get_thread(thread_id: ThreadId, ctx: Ctx) -> Response:
    row = await ctx.services.state.get(ctx.principal, home_space(ctx.principal), thread_id)
    return json_response({"thread_id": thread_id, "state": row["state"]})


@router.put("/{thread_id}", response_model=LegacyThread, responses=problems(403, 404, 412))
async def update_thread(thread_id: ThreadId, body: LegacyThreadUpdate, ctx: Ctx) -> Response:
    if body.thread_id is not None and body.thread_id != thread_id:
        raise ValidationFailed(
            f"thread_id in the body ({body.thread_id!r}) does not match the URL ({thread_id!r})",
            errors=[{"loc": ["body", "thread_id"], "msg": "does not match the URL"}],
        )
    row = await ctx.services.state.put(
        ctx.principal, home_space(ctx.principal), thread_id, body.state
    )
    return json_response({"thread_id": thread_id, "state": row["state"]})
