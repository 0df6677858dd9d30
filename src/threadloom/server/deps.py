"""Request dependencies, as ``Annotated`` aliases the routers share."""

# Dependencies are all "async def": FastAPI runs a plain "def" dependency in a worker thread,
# and that hop costs more than the whole database call on the request path.
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from starlette.datastructures import Headers

from ..core.auth import Principal, is_loopback
from ..core.idempotency import parse_idempotency_key
from ..core.services import Services
from ..ids import ID_PATTERN
from ..validation import check_request_strings

__all__ = [
    "IDEMPOTENCY_OPENAPI",
    "AssistantId",
    "Ctx",
    "RequestContext",
    "SpaceId",
    "ThreadId",
]


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Who is asking, the services to ask, and the request's headers: one dependency per
    request instead of several (each costs a FastAPI resolution on the hot path)."""

    principal: Principal
    services: Services
    headers: Headers

    @property
    def idempotency_key(self) -> str | None:
        return parse_idempotency_key(self.headers.get("idempotency-key"))


def _bearer(value: str | None) -> str | None:
    if value and value[:7].lower() == "bearer ":
        return value[7:].strip()
    return None


async def request_context(request: Request) -> RequestContext:
    """Also the edge's check of the query string and the headers (validation.py): it
    runs first on every route that reaches a service, the hot ones included."""
    scope = request.scope
    check_request_strings(
        scope["query_string"], lambda: request.query_params.multi_items(), scope["headers"]
    )
    services: Services = request.app.state.services
    headers = request.headers
    key = headers.get("x-api-key") or _bearer(headers.get("authorization"))
    server = request.scope.get("server")
    via_loopback = server is None or is_loopback(server[0])
    principal = await services.keys.authenticate(key, via_loopback)
    return RequestContext(principal, services, headers)


Ctx = Annotated[RequestContext, Depends(request_context)]

IDEMPOTENCY_OPENAPI: dict[str, Any] = {
    "parameters": [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "schema": {"type": "string", "maxLength": 257},
            "description": "Makes a create safe to retry: the same key and body replay the "
            "first response (a bare token or the quoted form of the IETF draft).",
        }
    ]
}

SpaceId = Annotated[str, Path(pattern=ID_PATTERN, description="The space (tenant).")]
ThreadId = Annotated[str, Path(pattern=ID_PATTERN, description="The thread.")]
AssistantId = Annotated[str, Path(pattern=ID_PATTERN, description="The assistant.")]
MessageId = Annotated[str, Path(pattern=ID_PATTERN, description="The message.")]
