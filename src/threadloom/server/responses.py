"""Responses serialized once with orjson, and the OpenAPI declaration of problem responses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from ..core.idempotency import fingerprint
from ..models import Problem
from .deps import RequestContext

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "RawJSONResponse",
    "idempotent_create",
    "json_response",
    "problems",
]

PROBLEM_MEDIA_TYPE = "application/problem+json"

_DESCRIPTIONS = {
    400: "Bad request",
    401: "No valid API key",
    403: "The key may not do this",
    404: "Not found (or not visible to this key)",
    409: "Conflict with the current state",
    412: "If-Match did not match the current version",
    413: "Over a size limit",
    422: "Validation failed",
    503: "The database is not reachable",
}


class RawJSONResponse(Response):
    media_type = "application/json"


def json_response(
    content: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> RawJSONResponse:
    return RawJSONResponse(orjson.dumps(content), status_code=status_code, headers=headers)


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status documented as a problem document."""
    return {
        status: {
            "model": Problem,
            "description": _DESCRIPTIONS.get(status, "Problem"),
            "content": {PROBLEM_MEDIA_TYPE: {}},
        }
        for status in (401, 422, *statuses)
    }


async def idempotent_create(
    ctx: RequestContext,
    request: Request,
    body: BaseModel | None,
    make: Callable[[], Awaitable[Any]],
    status_code: int = 201,
) -> Response:
    """Run a create under its Idempotency-Key (if any) and answer 201 with its result."""
    key = ctx.idempotency_key

    async def handler() -> tuple[int, bytes]:
        return status_code, orjson.dumps(await make())

    request_hash = ""
    if key is not None:
        payload = body.model_dump(mode="json") if body is not None else None
        request_hash = fingerprint(request.method, request.url.path, payload)
    result = await ctx.services.idempotency.run(ctx.principal.scope, key, request_hash, handler)
    headers = {"Idempotent-Replayed": "true"} if result.replayed else None
    return RawJSONResponse(result.body, status_code=result.status, headers=headers)
