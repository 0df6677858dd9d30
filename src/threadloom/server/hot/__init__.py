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
exception handlers (server/problems.py).

The package: ``compiler.py`` compiles one route (its parameter readers and dependencies),
``table.py`` holds the routes in FastAPI's order and picks the one FastAPI would,
``middleware.py`` is ``HotRoutes``, which serves the hot ones.
"""

from .compiler import HotRoute, NotHotEligible, compile_hot_route
from .middleware import HotRoutes
from .table import RouteTable, endpoints_of, hot_routes_of

__all__ = [
    "HotRoute",
    "HotRoutes",
    "NotHotEligible",
    "RouteTable",
    "compile_hot_route",
    "endpoints_of",
    "hot_routes_of",
]
