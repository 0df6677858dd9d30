"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from ...core.services import Services
from ...errors import ServiceUnavailable
from ..responses import json_response, problems

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> Response:
    return json_response({"status": "ok"})


@router.get("/readyz", summary="The database answers", responses=problems(503))
async def readyz(request: Request) -> Response:
    services: Services = request.app.state.services
    try:
        await services.store.ping()
    except ServiceUnavailable:
        raise
    except Exception as exc:  # any driver error means "not ready", never a 500
        raise ServiceUnavailable("the database does not answer") from exc
    return json_response({"status": "ready", "database": services.store.backend})
