"""The route table: the application's routes as FastAPI tries them, each with its compiled
form when it is hot, and the match that picks the route FastAPI would pick.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi.routing import APIRoute, APIRouter, RouteContext, iter_route_contexts
from starlette._utils import get_route_path  # the router's own root_path stripping
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

from .compiler import HotRoute, NotHotEligible, compile_hot_route

__all__ = ["RouteTable", "endpoints_of", "hot_routes_of"]


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
