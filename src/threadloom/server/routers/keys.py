"""API keys, managed by admin keys (the CLI does the same against the database); any key
may ask who it is."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from ...models import ApiKey, ApiKeyCreate, ApiKeyCreated, ApiKeyIdentity
from ..deps import Ctx
from ..responses import json_response, problems

router = APIRouter(prefix="/v1/keys", tags=["api keys"])


@router.post("", status_code=201, response_model=ApiKeyCreated, responses=problems(403, 404))
async def create_key(body: ApiKeyCreate, ctx: Ctx) -> Response:
    ctx.principal.require_admin()
    secret, row = await ctx.services.keys.create(body.role, body.space_id, body.name)
    return json_response({**row, "key": secret}, status_code=201)


@router.get("", response_model=list[ApiKey], responses=problems(403))
async def list_keys(ctx: Ctx) -> Response:
    ctx.principal.require_admin()
    return json_response(await ctx.services.keys.list_keys())


@router.get("/me", response_model=ApiKeyIdentity, responses=problems())
async def who_am_i(ctx: Ctx) -> Response:
    """The key this request was sent with: its id, role and space (never its secret). Every
    key may ask; on a server without keys the answer is the open admin, with no key id."""
    return json_response(ctx.services.keys.identify(ctx.principal))


@router.delete("/{key_id}", status_code=204, responses=problems(403, 404))
async def revoke_key(key_id: str, ctx: Ctx) -> Response:
    ctx.principal.require_admin()
    await ctx.services.keys.revoke(key_id)
    return Response(status_code=204)
