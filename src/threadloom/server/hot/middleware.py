"""``HotRoutes``, the innermost ASGI middleware: it serves a request whose route is hot by
calling the endpoint with what the compiled readers read, answers errors with the
application's exception handlers, and passes everything else on to FastAPI, body intact.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .compiler import _Decline
from .table import hot_routes_of

__all__ = ["HotRoutes"]


Handlers = typing.Mapping[Any, Callable[[Request, Any], Response | Awaitable[Response]]]


class _Disconnected(Exception):
    """The client went away before its body arrived."""


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise _Disconnected
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """``receive`` for FastAPI after the body was read here: the body, then the original."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class HotRoutes:
    """Innermost middleware: serves the hot routes of ``application``, passes everything
    else on. A route is hot when its endpoint is one of ``endpoints`` and it compiles (see
    ``hot_routes_of``); the table is built when the middleware stack is, at start-up.
    Errors are answered by ``application``'s exception handlers."""

    def __init__(self, app: ASGIApp, application: FastAPI, endpoints: Collection[Any]) -> None:
        self.app = app
        self.application = application
        self.table = hot_routes_of(application.router.routes, endpoints)
        self.handlers: Handlers = application.exception_handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or self.application.dependency_overrides
            or "fastapi.telemetry" in scope  # FastAPI records the route it picks
        ):
            await self.app(scope, receive, send)
            return
        matched = self.table.match(scope)
        if matched is None:
            await self.app(scope, receive, send)
            return
        hot, child_scope = matched
        # What FastAPI's router would put in the scope before calling the route.
        scope.setdefault("router", self.application.router)
        scope.update(child_scope)
        scope["route"] = hot.route
        path = scope["path_params"]
        body = b""
        try:
            if hot.reads_body:
                body = await _read_body(receive)
                # An endpoint that reads the body itself still gets it.
                receive = _replaying(body, receive)
            request = Request(scope, receive)
            kwargs = {}
            for param in hot.params:
                value = param.read(request, path, body)
                kwargs[param.name] = await value if param.is_async else value
        except _Disconnected:
            return
        except _Decline:
            await self.app(scope, receive, send)
            return
        except Exception as exc:
            response = await self._problem(Request(scope, receive), exc)
        else:
            try:
                response = await hot.route.endpoint(**kwargs)
            except Exception as exc:
                response = await self._problem(request, exc)
        await response(scope, receive, send)

    async def _problem(self, request: Request, exc: Exception) -> Response:
        """The application's answer to ``exc``; an error it has no handler for (other than
        the catch-all for 500s, which sits outside every middleware) propagates."""
        for cls in type(exc).__mro__:
            if cls is Exception:
                break
            handler = self.handlers.get(cls)
            if handler is not None:
                response = handler(request, exc)
                return await response if inspect.isawaitable(response) else response
        raise exc
