"""Compiling one route for the hot path: a reader for each parameter of its endpoint (path
values, the request, a dependency taking the request alone, a JSON body, string headers), and
the proof that FastAPI would call nothing else for it. A reader raises ``_Decline`` when a
request is irregular, so that FastAPI answers it.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import params
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, RouteContext
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from ...errors import ValidationFailed

__all__ = ["HotRoute", "NotHotEligible", "compile_hot_route"]


class NotHotEligible(TypeError):
    """An endpoint named hot takes a parameter the hot path does not read."""


class _Decline(Exception):
    """This request is for FastAPI after all."""


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
