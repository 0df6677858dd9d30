"""Hot routes: the busiest endpoints served without FastAPI's per-request machinery.

For every request FastAPI walks its routing tree, solves the endpoint's dependency graph and
validates each parameter on its own; on an append or a page read that costs more than the
database. ``HotRoutes`` is a pure ASGI middleware, the innermost one, that matches a few
named endpoints itself, reads their parameters directly (path values, the request context,
one query dependency, a JSON body parsed and validated in one pydantic call, string headers)
and calls the very same endpoint functions. The endpoints stay FastAPI routes: OpenAPI
documents them unchanged, and every other route is FastAPI's as before.

It fails closed: a request goes on to FastAPI, body intact, whenever the hot path cannot
show that it would do what FastAPI does:

- a route is compiled from the application's own routes (``app.router.routes``, so with
  every ``include_router`` prefix), and only when its effective dependencies are exactly
  the endpoint's own: a guard added with ``dependencies=[...]`` on the route, its router,
  ``include_router`` or the application keeps the route FastAPI's;
- a request is served hot only when the route FastAPI would pick (the first full match of
  ``route.matches``, in FastAPI's order, under the scope's ``root_path``) is a hot route;
- while ``app.dependency_overrides`` is not empty (read for every request), nothing is hot;
- when anything about a request is irregular (a path value, a query or a body that does
  not validate, a body that is not JSON), FastAPI answers it, so error documents have one
  source.

An error raised by a dependency or an endpoint is answered by the application's own
exception handlers (problems.py).
"""

from __future__ import annotations

import contextlib
import inspect
import os
import re
import typing
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, params
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, APIRouter, RouteContext, iter_route_contexts
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette._utils import get_route_path  # the router's own root_path stripping
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import ValidationFailed

__all__ = [
    "HotRoute",
    "HotRoutes",
    "NotHotEligible",
    "RouteTable",
    "compile_hot_route",
    "endpoints_of",
    "hot_routes_of",
]

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
    dependency: Callable[..., Any] | None = None


@dataclass(frozen=True, slots=True)
class HotRoute:
    route: APIRoute
    params: tuple[_Param, ...]
    reads_body: bool


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

    return _Param(name, read, is_async=True, dependency=call)


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


def _bind_dependencies(
    context: RouteContext, name: str, found: Sequence[_Param]
) -> tuple[_Param, ...]:
    """``found`` with each ``Depends`` parameter calling what FastAPI calls for it: the
    route's effective dependency tree must be one dependency per such parameter, each taking
    the request alone, and nothing else (no guard of the route, its routers, an
    ``include_router`` or the application)."""
    if context.dependencies:
        raise NotHotEligible(f"{name} has dependencies of its route, router or application")
    subs = {sub.name: sub for sub in context.dependant.dependencies}
    wanted = {param.name for param in found if param.dependency is not None}
    if None in subs or set(subs) != wanted or len(context.dependant.dependencies) != len(subs):
        raise NotHotEligible(f"{name} has dependencies the hot path does not call")
    for sub in subs.values():
        if sub.dependencies or sub.request_param_name is None:
            raise NotHotEligible(f"dependency {sub.name!r} of {name} has dependencies of its own")
    return tuple(
        _dependency_reader(param.name, subs[param.name].call)
        if param.dependency is not None
        else param
        for param in found
    )


def compile_hot_route(context: RouteContext) -> HotRoute:
    """What the hot path needs to call the endpoint of a route as FastAPI serves it (with
    its include prefixes and dependencies), or NotHotEligible."""
    route = context.route
    # A custom route class may do anything per request.
    if not isinstance(route, APIRoute) or type(route) is not APIRoute:
        raise NotHotEligible(f"{route!r} is not a plain API route")
    endpoint = route.endpoint
    if context.max_body_size is not None:
        raise NotHotEligible(f"{endpoint.__name__} has a body size limit of its own")
    if not inspect.iscoroutinefunction(endpoint):
        raise NotHotEligible(f"{endpoint.__name__} is not `async def`")
    hints = typing.get_type_hints(endpoint, include_extras=True)
    if hints.get("return") is not Response:
        raise NotHotEligible(f"{endpoint.__name__} must return a Response")
    path_names = set(context.param_convertors)
    found = tuple(
        _param(name, hints[name], parameter.default, path_names)
        for name, parameter in inspect.signature(endpoint).parameters.items()
    )
    found = _bind_dependencies(context, endpoint.__name__, found)
    return HotRoute(route, found, any(p.is_body for p in found))


Matcher = Callable[[Scope], tuple[Match, Scope]]


@dataclass(frozen=True, slots=True)
class RouteTable:
    """The application's routes as FastAPI tries them (included routers flattened, in
    order), up to the last hot one, each with its compiled form when it is hot (None when
    FastAPI must serve it)."""

    routes: tuple[RouteContext, ...]
    hot: tuple[HotRoute | None, ...]
    prefix: str
    """Every path these routes match starts with this (their text before the first "{")."""
    matchers: tuple[tuple[re.Pattern[str] | None, frozenset[str] | None, Matcher], ...] = ()
    """Each route's own ``matches``, the very test FastAPI's router makes, after its path
    regex and its methods where that test is the regex on the route path and then the
    method (an API route), to skip cheaply the routes that cannot match fully."""

    def __post_init__(self) -> None:
        matchers = tuple(
            (
                _path_regex(route) if type(route.original_route) in (Route, APIRoute) else None,
                _methods(route) if type(route.original_route) is APIRoute else None,
                route.matches,
            )
            for route in self.routes
        )
        object.__setattr__(self, "matchers", matchers)

    def match(self, scope: Scope) -> tuple[HotRoute, Scope] | None:
        """The hot route FastAPI would pick for ``scope`` (its first full match), with the
        child scope, or None when FastAPI would pick another route or none."""
        route_path = get_route_path(scope)
        if not route_path.startswith(self.prefix):
            return None
        method = scope["method"]
        for (regex, methods, matches), hot in zip(self.matchers, self.hot, strict=True):
            if regex is not None and regex.match(route_path) is None:
                continue
            if methods is not None and method not in methods:
                continue  # at best a partial match: FastAPI goes on to the next route too
            matched, child_scope = matches(scope)
            if matched is Match.FULL:
                return None if hot is None else (hot, child_scope)
        return None


def _methods(route: RouteContext) -> frozenset[str] | None:
    """The methods an API route matches fully (None: any method, or not known)."""
    methods = getattr(route, "methods", None)
    return frozenset(methods) if isinstance(methods, set | frozenset) and methods else None


def _path_regex(route: RouteContext) -> re.Pattern[str] | None:
    regex = getattr(route, "path_regex", None)
    return regex if isinstance(regex, re.Pattern) else None


def endpoints_of(routers: Sequence[APIRouter]) -> frozenset[Any]:
    """The endpoint functions of ``routers``' routes: the ones to serve hot where they can be."""
    return frozenset(getattr(route, "endpoint", None) for r in routers for route in r.routes)


def hot_routes_of(routes: Sequence[BaseRoute], endpoints: Collection[Any]) -> RouteTable:
    """The route table of an application's ``routes``: a route is hot when its endpoint is
    one of ``endpoints`` and the hot path can read its parameters and call its dependencies
    (the others, such as a merge patch body, a plain query parameter or a guarded route,
    stay FastAPI's)."""
    contexts = list(iter_route_contexts(routes))
    compiled: list[HotRoute | None] = []
    for context in contexts:
        hot = None
        if context.endpoint in endpoints:
            with contextlib.suppress(NotHotEligible):
                hot = compile_hot_route(context)
        compiled.append(hot)
    last = max((i for i, hot in enumerate(compiled) if hot is not None), default=-1)
    kept = contexts[: last + 1]
    paths = [context.path for context in kept]
    prefix = os.path.commonprefix(
        [path.split("{", 1)[0] if isinstance(path, str) else "" for path in paths]
    )
    return RouteTable(tuple(kept), tuple(compiled[: last + 1]), prefix)


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
