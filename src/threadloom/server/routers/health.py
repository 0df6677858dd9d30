"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from ...errors import ServiceUnavailable
from ..deps import ServicesDep
from ..responses import json_response, problems

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> Response:
    return json_response({"status": "ok"})


@router.get("/readyz", summary="The database answers", responses=problems(503))
async def readyz(services: ServicesDep) -> Response:
    try:
        await services.store.ping()
    except ServiceUnavailable:
        raise
    except Exception as exc:  # any driver error means "not ready", never a 500
        raise ServiceUnavailable("the database does not answer") from exc
    return json_response({"status": "ready", "database": services.store.backend})
