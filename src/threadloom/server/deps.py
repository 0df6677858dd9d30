"""Request dependencies, as ``Annotated`` aliases the routers share."""

# Dependencies are all "async def": FastAPI runs a plain "def" dependency in a worker thread,
# and that hop costs more than the whole database call on the request path.
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Path, Request

from ..core.auth import Principal, is_loopback
from ..core.idempotency import parse_idempotency_key
from ..core.services import Services
from ..ids import ID_PATTERN

__all__ = [
    "IdempotencyKey",
    "PrincipalDep",
    "ServicesDep",
    "SpaceId",
    "ThreadId",
]


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def _bearer(value: str | None) -> str | None:
    if value and value[:7].lower() == "bearer ":
        return value[7:].strip()
    return None


async def current_principal(request: Request) -> Principal:
    services: Services = request.app.state.services
    headers = request.headers
    key = headers.get("x-api-key") or _bearer(headers.get("authorization"))
    server = request.scope.get("server")
    via_loopback = server is None or is_loopback(server[0])
    return await services.keys.authenticate(key, via_loopback)


PrincipalDep = Annotated[Principal, Depends(current_principal)]


async def idempotency_key(
    idempotency_key: Annotated[
        str | None,
        Header(
            description="Makes a create safe to retry: the same key and body replay the "
            "first response (a bare token or the quoted form of the IETF draft)."
        ),
    ] = None,
) -> str | None:
    return parse_idempotency_key(idempotency_key)


IdempotencyKey = Annotated[str | None, Depends(idempotency_key)]

SpaceId = Annotated[str, Path(pattern=ID_PATTERN, description="The space (tenant).")]
ThreadId = Annotated[str, Path(pattern=ID_PATTERN, description="The thread.")]
