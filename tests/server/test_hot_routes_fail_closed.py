"""The hot path fails closed: whatever it cannot prove equivalent (a guard added with
``dependencies=[...]`` anywhere, an ``include_router`` prefix, a route FastAPI matches first,
``dependency_overrides``, a ``root_path``) gets FastAPI's own answer. Each case runs the same
request against the app with and without the hot path."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import fastapi
import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel
from starlette.responses import Response

from tests.fixtures.databases import make_settings
from threadloom.errors import Forbidden
from threadloom.server.app import create_app
from threadloom.server.deps import request_context
from threadloom.server.hot import HotRoutes, endpoints_of

from .test_hot_routes import CountingApp, _hot_layer, _is_hot_routes

pytestmark = pytest.mark.anyio

THREADS = "/v1/spaces/default/threads"


class _Item(BaseModel):
    a: int


async def who(request: fastapi.Request) -> str:
    return request.headers.get("x-who", "anonymous")


async def deny() -> None:
    raise Forbidden("denied by a guard")


def _echo_router(**router_options: Any) -> APIRouter:
    router = APIRouter(**router_options)

    @router.post("/v1/echo/{name}")
    async def echo(
        name: Annotated[str, fastapi.Path()], item: _Item, caller: Annotated[str, Depends(who)]
    ) -> Response:
        return Response(f"{name} {item.a} {caller}".encode())

    return router


Build = Callable[[bool], FastAPI]


def _app(
    hot: bool,
    *,
    app_options: dict[str, Any] | None = None,
    router_options: dict[str, Any] | None = None,
    include_options: dict[str, Any] | None = None,
    before: Callable[[FastAPI], None] | None = None,
) -> FastAPI:
    from threadloom.server.problems import install_problem_handlers

    application = FastAPI(**(app_options or {}))
    install_problem_handlers(application)
    if before is not None:
        before(application)
    router = _echo_router(**(router_options or {}))
    application.include_router(router, **(include_options or {}))
    if hot:
        application.add_middleware(
            HotRoutes, application=application, endpoints=endpoints_of([router])
        )
    return application


@asynccontextmanager
async def _served(
    application: FastAPI, root_path: str = ""
) -> AsyncIterator[tuple[httpx.AsyncClient, CountingApp | None]]:
    transport = httpx.ASGITransport(app=application, root_path=root_path)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        await client.get("/nowhere")  # builds the middleware stack
        counter = None
        if any(_is_hot_routes(m) for m in application.user_middleware):
            layer = _hot_layer(application)
            counter = layer.app = CountingApp(layer.app)
        yield client, counter


async def _both(path: str, root_path: str = "", **options: Any) -> tuple[Any, Any, int]:
    """(status, body) with and without the hot path, and whether FastAPI answered behind it."""
    answers = []
    reached = -1
    for hot in (True, False):
        async with _served(_app(hot, **options), root_path) as (client, counter):
            response = await client.post(path, json={"a": 7}, headers={"X-Who": "ann"})
            answers.append((response.status_code, response.content))
            if counter is not None:
                reached = counter.calls
    return answers[0], answers[1], reached


async def test_an_unguarded_route_is_served_hot() -> None:
    hot, plain, reached = await _both("/v1/echo/x")
    assert hot == plain == (200, b"x 7 ann")
    assert reached == 0


def _guard() -> list[Any]:
    return [Depends(deny)]


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"router_options": {"dependencies": _guard()}}, id="router"),
        pytest.param({"include_options": {"dependencies": _guard()}}, id="include_router"),
        pytest.param({"app_options": {"dependencies": _guard()}}, id="app"),
    ],
)
async def test_a_guard_added_with_dependencies_keeps_the_route_fastapis(
    options: dict[str, Any],
) -> None:
    hot, plain, reached = await _both("/v1/echo/x", **options)
    assert hot == plain
    assert hot[0] == 403
    assert reached == 1


async def test_a_guard_on_the_route_itself_keeps_it_fastapis() -> None:
    def guarded_route(application: FastAPI) -> None:
        @application.post("/v1/echo/{name}", dependencies=[Depends(deny)])
        async def guarded(name: Annotated[str, fastapi.Path()], item: _Item) -> Response:
            return Response(f"{name} {item.a}".encode())

        application.add_middleware(
            HotRoutes, application=application, endpoints=frozenset({guarded})
        )

    async with _served(_app(False, before=guarded_route)) as (client, counter):
        response = await client.post("/v1/echo/x", json={"a": 7})
    assert response.status_code == 403
    assert counter is not None
    assert counter.calls == 1


async def test_an_include_prefix_is_honoured() -> None:
    options: dict[str, Any] = {"include_options": {"prefix": "/api"}}
    hot, plain, reached = await _both("/api/v1/echo/x", **options)
    assert hot == plain == (200, b"x 7 ann")
    assert reached == 0
    hot, plain, reached = await _both("/v1/echo/x", **options)
    assert hot == plain
    assert hot[0] == 404


async def test_a_route_fastapi_matches_first_is_fastapis() -> None:
    def earlier_route(application: FastAPI) -> None:
        @application.post("/v1/echo/{name}")
        async def first(name: str) -> Response:
            return Response(f"first {name}".encode())

    hot, plain, reached = await _both("/v1/echo/x", before=earlier_route)
    assert hot == plain == (200, b"first x")
    assert reached == 1


async def test_dependency_overrides_are_honoured_while_set() -> None:
    async def someone_else() -> str:
        return "override"

    for hot in (True, False):
        application = _app(hot)
        async with _served(application) as (client, counter):
            application.dependency_overrides[who] = someone_else
            overridden = await client.post("/v1/echo/x", json={"a": 7})
            application.dependency_overrides.clear()
            restored = await client.post("/v1/echo/x", json={"a": 7})
        assert overridden.content == b"x 7 override"
        assert restored.content == b"x 7 anonymous"
        if counter is not None:
            assert counter.calls == 1  # the overridden one only


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/base/v1/echo/x", id="path under the root_path, as uvicorn sends it"),
        pytest.param("/v1/echo/x", id="path without it"),
    ],
)
async def test_a_root_path_is_stripped_as_fastapi_strips_it(path: str) -> None:
    hot, plain, reached = await _both(path, "/base")
    assert hot == plain == (200, b"x 7 ann")
    assert reached == 0


# The application itself ---------------------------------------------------------------------


@asynccontextmanager
async def _threadloom(
    template: Path, tmp: Path, name: str, hot: bool, root_path: str = ""
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, CountingApp | None]]:
    path = tmp / f"{name}.db"
    shutil.copy(template, path)
    settings = make_settings(
        database_url=f"sqlite:///{path}",
        migrate_on_start=False,
    )
    application = create_app(settings)
    if not hot:
        application.user_middleware = [
            m for m in application.user_middleware if not _is_hot_routes(m)
        ]
    async with application.router.lifespan_context(application):
        async with _served(application, root_path) as (client, counter):
            yield application, client, counter


async def test_an_override_of_the_request_context_reaches_the_hot_endpoints(
    sqlite_template: Path, tmp_path: Path
) -> None:
    async def nobody() -> None:
        raise Forbidden("overridden for a test")

    answers = []
    for hot in (True, False):
        async with _threadloom(sqlite_template, tmp_path, f"db{hot}", hot) as (app, client, c):
            app.dependency_overrides[request_context] = nobody
            response = await client.post(THREADS, json={"id": "t1"})
            answers.append((response.status_code, response.json()["detail"]))
            if c is not None:
                assert c.calls == 1
    assert answers[0] == answers[1] == (403, "overridden for a test")


async def test_the_app_behind_a_root_path_is_served_hot(
    sqlite_template: Path, tmp_path: Path
) -> None:
    answers = []
    for hot in (True, False):
        async with _threadloom(sqlite_template, tmp_path, f"db{hot}", hot, "/base") as (
            _,
            client,
            counter,
        ):
            created = await client.post(f"/base{THREADS}", json={"id": "t1"})
            page = await client.get(f"/base{THREADS}/t1/messages")
            answers.append((created.status_code, page.status_code, page.json()["data"]))
            if counter is not None:
                assert counter.calls == 0
    assert answers[0] == answers[1] == (201, 200, [])
