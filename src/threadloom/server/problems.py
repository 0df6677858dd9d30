"""Every error becomes ``application/problem+json`` (RFC 9457) here, and only here.

No stack trace reaches a client: an unexpected exception is logged with the request's
method and route template, its traceback redacted of every exception message (logs.py), and
answered with a bare 500 problem.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from ..errors import PROBLEM_BASE, ThreadloomError
from ..logs import redacted, request_id_var
from .observability import route_of
from .responses import PROBLEM_MEDIA_TYPE

__all__ = ["install_problem_handlers", "problem_response"]

log = logging.getLogger("threadloom.server")

_HTTP_TITLES = {
    400: ("bad-request", "Bad request"),
    404: ("not-found", "Not found"),
    408: ("request-timeout", "The request did not arrive in time"),
    413: ("payload-too-large", "The request is larger than allowed"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    415: ("unsupported-media-type", "Unsupported media type"),
}


def problem_response(
    problem: dict[str, Any], status: int, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(problem), status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE
    )


def _instance(request: Request) -> str:
    return request.url.path


def _clean_error(error: Any) -> dict[str, Any]:
    loc = [part for part in error.get("loc", ()) if isinstance(part, (str, int))]
    cleaned: dict[str, Any] = {"loc": loc, "msg": error.get("msg", ""), "type": error.get("type")}
    return cleaned


async def _threadloom_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ThreadloomError)
    return problem_response(exc.to_problem(_instance(request)), exc.status_code, exc.headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [_clean_error(error) for error in exc.errors()]
    if any(error["type"] == "json_invalid" for error in errors):
        detail = "the request body is not valid JSON"
    else:
        fields = ", ".join(".".join(map(str, e["loc"])) for e in errors[:5])
        detail = f"the request has invalid fields: {fields}"
    problem = {
        "type": PROBLEM_BASE + "validation-error",
        "title": "The request is not valid",
        "status": 422,
        "detail": detail,
        "instance": _instance(request),
        "errors": errors,
    }
    return problem_response(problem, 422)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    allowed = []
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    slug, title = _HTTP_TITLES.get(exc.status_code, ("http-error", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no route {request.method} {request.url.path}"
    problem = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": exc.status_code,
        "detail": detail,
        "instance": _instance(request),
    }
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return problem_response(problem, exc.status_code, headers)


async def _unexpected(request: Request, exc: Exception) -> Response:
    route = route_of(request.scope)
    log.error("unhandled error on %s %s", request.method, route, exc_info=redacted(exc))
    problem = {
        "type": PROBLEM_BASE + "internal-error",
        "title": "Internal server error",
        "status": 500,
        "detail": "the server failed to handle this request; it has been logged",
        "instance": _instance(request),
    }
    # Sent from outside the middleware stack, so the request id header is added here.
    request_id = request_id_var.get()
    return problem_response(problem, 500, {"X-Request-ID": request_id} if request_id else None)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ThreadloomError, _threadloom_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
