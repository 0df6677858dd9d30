"""Request ids, access lines and HTTP metrics, in one pure ASGI middleware.

Every response carries ``X-Request-ID``: the client's own when it sent a valid one (visible
ASCII, at most 128 characters), otherwise a new one. The id is in ``request_id_var`` while
the request runs, so every log line written for the request carries it.

A request is named by its route template (``/v1/spaces/{space_id}/threads``), in the access
line and in the metrics alike, or ``<unmatched>`` when no route matched it: never by its raw
path or query, which may hold anything a client typed (an API key pasted into a URL).
"""

from __future__ import annotations

import logging
import os
import re
from time import perf_counter
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..ids import ProcessSequence
from ..logs import ACCESS_LOGGER, request_id_var
from . import metrics

__all__ = ["REQUEST_ID_HEADER", "ObservabilityMiddleware", "route_of"]

REQUEST_ID_HEADER = "X-Request-ID"
_HEADER = b"x-request-id"
_VALID_ID = re.compile(rb"[\x21-\x7e]{1,128}")
access_log = logging.getLogger(ACCESS_LOGGER)
_request_ids = ProcessSequence(lambda: os.urandom(4).hex())


def new_request_id() -> bytes:
    """16 hex digits: 8 random per process, then a counter (unique, cheap, not a secret)."""
    part, number = _request_ids.next()
    return f"{part}{number & 0xFFFFFFFF:08x}".encode()


def route_of(scope: Scope) -> str:
    """The template of the route that served ``scope``, or ``<unmatched>``."""
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str):
        return path
    endpoint = scope.get("endpoint")
    if endpoint is not None:  # a plain Starlette route (the API docs) puts no "route" here
        for route in getattr(scope.get("app"), "routes", ()):
            path = getattr(route, "path", None)
            if getattr(route, "endpoint", None) is endpoint and isinstance(path, str):
                return path
    return metrics.UNMATCHED_ROUTE


class ObservabilityMiddleware:
    """Outermost of the app's middleware, so it sees every response the app sends.

    One exception: an unhandled error's 500 is sent by Starlette's error middleware, outside
    this one; its handler (problems.py) reads the id from ``request_id_var``, which is left
    set on purpose (each request runs in its own task, so nothing leaks into the next)."""

    def __init__(self, app: ASGIApp, *, record_metrics: bool = True) -> None:
        self.app = app
        self.record_metrics = record_metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = perf_counter()
        request_id: bytes | None = None
        for name, value in scope["headers"]:
            if name == _HEADER:
                if _VALID_ID.fullmatch(value):
                    request_id = value
                break
        if request_id is None:
            request_id = new_request_id()
        request_id_var.set(request_id.decode())
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # A new list: a response object may reuse its own between sends.
                headers = [*message.get("headers", ()), (_HEADER, request_id)]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._finish(scope, status, perf_counter() - start)

    def _finish(self, scope: Scope, status: int, seconds: float) -> None:
        route = route_of(scope)
        if self.record_metrics:
            metrics.observe_request(scope["method"], route, status, seconds)
        if access_log.isEnabledFor(logging.INFO):
            method = scope["method"]
            path = route
            duration_ms = round(seconds * 1000, 2)
            extra: dict[str, Any] = {
                "method": method,
                "path": path,
                "status": status,
                "duration_ms": duration_ms,
            }
            access_log.info("%s %s %d %.2fms", method, path, status, duration_ms, extra=extra)
