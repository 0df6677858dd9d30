"""Hot routes: the busiest endpoints served without FastAPI's per-request machinery.

For every request FastAPI walks its routing tree, solves the endpoint's dependency graph and
validates each parameter on its own; on an append or a page read that costs more than the
database. ``HotRoutes`` is a pure ASGI middleware, the innermost one, that matches a few
named endpoints itself, reads their parameters directly (path values, the request context,
one query dependency, a JSON body parsed and validated in one pydantic call, string headers)
and calls the very same endpoint functions. The endpoints stay FastAPI routes: OpenAPI
documents them unchanged, and every other route is FastAPI's as before.

It only takes the regular path. When anything about a request is irregular (a path value,
a query or a body that does not validate, a body that is not JSON), the request goes on to
FastAPI, body intact, which answers exactly as it would have, so error documents have one
source. An error raised by a dependency or an endpoint is answered by the application's own
exception handlers (problems.py). FastAPI's ``dependency_overrides`` do not reach the hot
endpoints; nothing in threadloom uses them.
"""

from __future__ import annotations

import inspect
import os
import re
import typing
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import params
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, APIRouter
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import ValidationFailed

__all__ = ["HotRoute", "HotRoutes", "NotHotEligible", "compile_hot_route", "hot_routes_of"]

Handlers = typing.Mapping[Any, Callable[[Request, Any], Response | Awaitable[Response]]]


class NotHotEligible(TypeError):
    """An endpoint named hot takes a parameter the hot path does not read."""


class _Decline(Exception):
    """This request is for FastAPI after all."""


class _Disconnected(Exception):
    """The client went away before its body arrived."""


@dataclass(frozen=True, slots=True)
class _Param:
    name: str
    read: Callable[[Request, dict[str, str], bytes], Any]
    is_async: bool = False
    is_body: bool = False


@dataclass(frozen=True, slots=True)
class HotRoute:
    route: APIRoute
    regex: re.Pattern[str]
    methods: frozenset[str]
    hot: bool
    params: tuple[_Param, ...] = ()
    reads_body: bool = False


def _json_body(content_type: str | None) -> bool:
    if content_type is None:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _path_reader(name: str, annotation: Any) -> _Param:
    adapter: TypeAdapter[Any] = TypeAdapter(annotation)

    def read(_request: Request, path: dict[str, str], _body: bytes) -> Any:
        try:
            return adapter.validate_python(path[name])
        except ValidationError:
            raise _Decline from None

    return _Param(name, read)


def _header_reader(name: str, info: params.Header, default: Any) -> _Param:
    header = (info.alias or (name.replace("_", "-") if info.convert_underscores else name)).lower()

    def read(request: Request, _path: dict[str, str], _body: bytes) -> Any:
        return request.headers.get(header, default)

    return _Param(name, read)


def _body_reader(name: str, model: type[BaseModel]) -> _Param:
    def read(request: Request, _path: dict[str, str], body: bytes) -> Any:
        if not body or not _json_body(request.headers.get("content-type")):
            raise _Decline
        try:
            return model.model_validate_json(body)
        except (ValidationError, ValidationFailed):  # FastAPI answers it, after the key
            raise _Decline from None

    return _Param(name, read, is_body=True)


def _dependency_reader(name: str, call: Callable[..., Any]) -> _Param:
    """A dependency that takes the request alone (the request context, a parsed query)."""
    hints = typing.get_type_hints(call)
    takes = [hints.get(parameter) for parameter in inspect.signature(call).parameters]
    if not inspect.iscoroutinefunction(call) or takes != [Request]:
        raise NotHotEligible(f"dependency {name!r} must be `async def f(request: Request)`")

    async def read(request: Request, _path: dict[str, str], _body: bytes) -> Any:
        try:
            return await call(request)
        except RequestValidationError:
            raise _Decline from None

    return _Param(name, read, is_async=True)


def _param(name: str, hint: Any, default: Any, path_names: set[str]) -> _Param:
    if hint is Request:
        return _Param(name, lambda request, _path, _body: request)
    if typing.get_origin(hint) is typing.Annotated:
        base, *extras = typing.get_args(hint)
        for extra in extras:
            if isinstance(extra, params.Depends) and extra.dependency is not None:
                return _dependency_reader(name, extra.dependency)
            if isinstance(extra, params.Path) and name in path_names:
                return _path_reader(name, hint)
            if isinstance(extra, params.Header) and default is not inspect.Parameter.empty:
                if base is not str and base != str | None:
                    break
                return _header_reader(name, extra, default)
    elif inspect.isclass(hint) and issubclass(hint, BaseModel):
        return _body_reader(name, hint)
    raise NotHotEligible(f"parameter {name!r} ({hint!r}) is not one the hot path reads")


def compile_hot_route(route: APIRoute, hot: bool) -> HotRoute:
    """What the hot path needs to match ``route`` and, when ``hot``, to call its endpoint."""
    methods = frozenset(route.methods or ())
    if not hot:
        return HotRoute(route, route.path_regex, methods, hot=False)
    endpoint = route.endpoint
    if not inspect.iscoroutinefunction(endpoint):
        raise NotHotEligible(f"{endpoint.__name__} is not `async def`")
    hints = typing.get_type_hints(endpoint, include_extras=True)
    if hints.get("return") is not Response:
        raise NotHotEligible(f"{endpoint.__name__} must return a Response")
    path_names = set(route.param_convertors)
    found = tuple(
        _param(name, hints[name], parameter.default, path_names)
        for name, parameter in inspect.signature(endpoint).parameters.items()
    )
    return HotRoute(route, route.path_regex, methods, True, found, any(p.is_body for p in found))


def hot_routes_of(routers: Sequence[APIRouter]) -> list[HotRoute]:
    """Every route of ``routers``, in order; hot where the hot path can read its parameters
    (the others, such as a merge patch body or a plain query parameter, stay FastAPI's)."""
    compiled = []
    for router in routers:
        for route in router.routes:
            if not isinstance(route, APIRoute):
                raise NotHotEligible(f"{route!r} is not an API route")
            try:
                compiled.append(compile_hot_route(route, hot=True))
            except NotHotEligible:
                compiled.append(compile_hot_route(route, hot=False))
    return compiled


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
    """Innermost middleware: serves ``routes`` marked hot, passes everything else on.

    ``routes`` must be, in order, the first routes FastAPI would try for the paths they
    match (hot or not), so that the first full match here is FastAPI's first full match.
    ``handlers`` are the application's exception handlers (read when a request needs one)."""

    def __init__(self, app: ASGIApp, routes: Sequence[HotRoute], handlers: Handlers) -> None:
        self.app = app
        self.routes = tuple(routes)
        self.handlers = handlers
        # Every path the routes match starts with this (their text before the first "{").
        self.prefix = os.path.commonprefix([r.route.path.split("{", 1)[0] for r in self.routes])

    def _match(self, method: str, path: str) -> tuple[HotRoute, dict[str, str]] | None:
        if not path.startswith(self.prefix):
            return None
        for candidate in self.routes:
            found = candidate.regex.match(path)
            if found is not None and method in candidate.methods:
                return candidate, found.groupdict()
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        matched = self._match(scope["method"], scope["path"])
        if matched is None or not matched[0].hot:
            await self.app(scope, receive, send)
            return
        hot, path = matched
        scope["route"] = hot.route
        scope["path_params"] = path
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
