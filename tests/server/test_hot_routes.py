"""The hot path (server/hot/) answers exactly as FastAPI would, and takes the requests it
should: the same script of requests, regular and irregular, runs against the app and against
the same app without the hot path, and every answer must match."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import fastapi
import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel
from starlette.middleware import Middleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.fixtures.app import services_of
from tests.fixtures.databases import make_settings
from threadloom.config import Limits, Settings
from threadloom.server.app import create_app
from threadloom.server.hot import HotRoutes, endpoints_of, hot_routes_of
from threadloom.server.routers import messages, state, threads

pytestmark = pytest.mark.anyio

THREADS = "/v1/spaces/default/threads"
Request = tuple[str, str, dict[str, Any]]


class CountingApp:
    """Stands between the hot path and FastAPI, counting what reaches FastAPI."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.calls += 1
        await self.app(scope, receive, send)


def _hot_layer(app: FastAPI) -> HotRoutes:
    layer: Any = app.middleware_stack
    while not isinstance(layer, HotRoutes):
        layer = layer.app
    return layer


def _app_of(client: httpx.AsyncClient) -> FastAPI:
    """The application a client of ``_client`` calls in process."""
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    assert isinstance(transport.app, FastAPI)
    return transport.app


def _is_hot_routes(middleware: Middleware) -> bool:
    # Starlette types ``cls`` as a factory protocol whose ParamSpec is left unbound, which
    # mypy finds overlapping no class: compared as the object it is.
    factory: object = middleware.cls
    return factory is HotRoutes


def _settings(path: Path, **overrides: Any) -> Settings:
    return make_settings(
        database_url=f"sqlite:///{path}",
        migrate_on_start=False,
        **overrides,
    )


async def _with_keys(template: Path, tmp: Path) -> tuple[Path, dict[str, dict[str, str]]]:
    """A copy of ``template`` holding a key of each role, and the headers of every kind of
    caller: each role's key, a wrong key and none (from then on every request needs one)."""
    path = tmp / "keyed.db"
    shutil.copy(template, path)
    app = create_app(_settings(path))
    headers: dict[str, dict[str, str]] = {"wrong key": {"X-API-Key": "tl_wrong"}, "no key": {}}
    async with app.router.lifespan_context(app):
        for role in ("admin", "writer", "reader"):
            space = None if role == "admin" else "default"
            secret, _ = await app.state.services.keys.create(role, space, role)
            headers[role] = {"Authorization": f"Bearer {secret}"}
    return path, headers


@asynccontextmanager
async def _client(
    template: Path,
    tmp: Path,
    name: str,
    hot: bool,
    *,
    headers: dict[str, str] | None = None,
    root_path: str = "",
    **overrides: Any,
) -> AsyncIterator[tuple[httpx.AsyncClient, CountingApp | None]]:
    path = tmp / f"{name}.db"
    shutil.copy(template, path)
    app = create_app(_settings(path, **overrides))
    if not hot:
        app.user_middleware = [m for m in app.user_middleware if not _is_hot_routes(m)]
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, root_path=root_path)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://localhost", headers=headers
        ) as client:
            await client.get(f"{root_path}/healthz")  # builds the middleware stack
            counter = None
            if hot:
                layer = _hot_layer(app)
                counter = CountingApp(layer.app)
                layer.app = counter
            yield client, counter


# Times, and the thread list's cursors (which hold times).
_VOLATILE = {"created_at", "updated_at", "archived_at", "expires_at", "first_id", "last_id"}


def _normal(value: Any) -> Any:
    """The answer without what differs between two runs (times, generated ids)."""
    if isinstance(value, dict):
        return {
            key: "<volatile>"
            if key in _VOLATILE or (key == "id" and str(value.get(key, "")).startswith("msg_"))
            else _normal(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_normal(item) for item in value]
    return value


async def _answer(client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> Any:
    response = await client.request(method, path, **kwargs)
    body: Any = response.content
    if response.headers.get("content-type", "").endswith("json") and response.content:
        body = _normal(response.json())
    headers = {
        name: response.headers.get(name)
        for name in ("content-type", "etag", "idempotent-replayed", "www-authenticate", "allow")
    }
    return response.status_code, headers, body


REGULAR: list[Request] = [
    ("POST", THREADS, {"json": {"id": "t1", "title": "first", "metadata": {"k": "v"}}}),
    ("POST", THREADS, {"json": {"id": "t2", "title": "second"}}),
    ("POST", f"{THREADS}/t1/messages", {"json": {"role": "user", "content": "hello"}}),
    (
        "POST",
        f"{THREADS}/t1/messages",
        {"json": {"content": "again", "private": True}, "headers": {"Idempotency-Key": "k1"}},
    ),
    (
        "POST",
        f"{THREADS}/t1/messages",
        {"json": {"content": "again", "private": True}, "headers": {"Idempotency-Key": "k1"}},
    ),
    (
        "POST",
        f"{THREADS}/t1/messages/batch",
        {"json": {"messages": [{"content": "a"}, {"role": "assistant", "content": "b"}]}},
    ),
    ("GET", f"{THREADS}/t1/messages", {}),
    ("GET", f"{THREADS}/t1/messages?order=desc&limit=2&include_private=true", {}),
    ("GET", f"{THREADS}/t1/messages?role=assistant", {}),
    ("GET", f"{THREADS}/t1", {}),
    ("GET", f"{THREADS}?limit=1&order=asc", {}),
    ("GET", f"{THREADS}?metadata[k]=v", {}),
    ("PATCH", f"{THREADS}/t2", {"json": {"title": "renamed", "metadata": {"a": 1}}}),
    ("PUT", f"{THREADS}/t1/state", {"json": {"state": {"step": 1}}}),
    (
        "PUT",
        f"{THREADS}/t1/state",
        {"json": {"state": {"step": 2}}, "headers": {"If-Match": '"1"'}},
    ),
    ("GET", f"{THREADS}/t1/state", {}),
    ("GET", f"{THREADS}/t1/state/history", {}),
    (
        "POST",
        f"{THREADS}/messages",
        {"json": {"thread": {"id": "t3"}, "message": {"content": "x"}}},
    ),
    # The design's flat form of the same endpoint, replayed under its idempotency key.
    (
        "POST",
        f"{THREADS}/messages",
        {
            "json": {"thread": {"id": "t4"}, "content": "flat", "role": "assistant"},
            "headers": {"Idempotency-Key": "k2"},
        },
    ),
    (
        "POST",
        f"{THREADS}/messages",
        {
            "json": {"thread": {"id": "t4"}, "content": "flat", "role": "assistant"},
            "headers": {"Idempotency-Key": "k2"},
        },
    ),
    ("POST", f"{THREADS}/t3/restore", {}),
]

# Errors the endpoints raise: answered on the hot path by the app's handlers.
RAISED: list[Request] = [
    ("GET", f"{THREADS}/nope", {}),
    ("GET", f"{THREADS}/nope/messages", {}),
    ("POST", f"{THREADS}/nope/messages", {"json": {"content": "x"}}),
    ("PUT", f"{THREADS}/t1/state", {"json": {"state": 3}, "headers": {"If-Match": '"99"'}}),
    ("POST", THREADS, {"json": {"id": "t1"}}),
    (
        "POST",
        f"{THREADS}/t1/messages",
        {"json": {"content": "other body"}, "headers": {"Idempotency-Key": "k1"}},
    ),
    ("GET", "/v1/spaces/elsewhere/threads/t1", {}),
    ("GET", f"{THREADS}/t1/messages?after=garbage", {}),
    ("GET", f"{THREADS}/t1/messages/nope", {}),
    ("DELETE", f"{THREADS}/t1/messages/nope", {}),
]

# Irregular requests: the hot path hands them to FastAPI.
DECLINED: list[Request] = [
    ("POST", f"{THREADS}/t1/messages", {"content": b"{not json"}),
    ("POST", f"{THREADS}/t1/messages", {"json": {"content": 5}}),
    ("POST", f"{THREADS}/t1/messages", {"json": {"content": "x", "unknown": 1}}),
    ("POST", f"{THREADS}/t1/messages", {}),
    (
        "POST",
        f"{THREADS}/t1/messages",
        {"content": b'{"content": "x"}', "headers": {"Content-Type": "text/plain"}},
    ),
    ("GET", f"{THREADS}/t1/messages?limit=1000", {}),
    ("GET", f"{THREADS}/t1/messages?order=sideways", {}),
    ("GET", f"{THREADS}/{'x' * 200}", {}),
    ("GET", f"{THREADS}/bad%20id/messages", {}),
    ("PUT", f"{THREADS}/t1/state", {"json": {"nostate": 1}}),
    ("POST", f"{THREADS}/messages", {"json": {"message": {}, "content": "both forms"}}),
    ("POST", f"{THREADS}/messages", {"json": {"thread": {"id": "t5"}}}),
    ("POST", f"{THREADS}/messages", {"json": ["not", "an", "object"]}),
]

# Not hot at all: FastAPI's routes, reached through the hot path's routers.
NOT_HOT: list[Request] = [
    (
        "PATCH",
        f"{THREADS}/t1/state",
        {
            "content": b'{"more": true}',
            "headers": {"Content-Type": "application/merge-patch+json"},
        },
    ),
    ("DELETE", f"{THREADS}/t3", {}),
    ("DELETE", f"{THREADS}/t2?purge=true", {}),
    ("PUT", f"{THREADS}/t1/messages", {"json": {}}),
    ("GET", "/v1/spaces/default", {}),
]


async def _run_both(
    sqlite_template: Path, tmp_path: Path, script: list[Request], **options: Any
) -> tuple[list[Any], list[Any], list[int]]:
    """Answers of the app with and without the hot path, and how many requests of each step
    reached FastAPI behind the hot path."""
    hot_answers, plain_answers, reached = [], [], []
    async with _client(sqlite_template, tmp_path, "hot", True, **options) as (hot, counter):
        async with _client(sqlite_template, tmp_path, "plain", False, **options) as (plain, _):
            assert counter is not None
            for method, path, kwargs in script:
                before = counter.calls
                hot_answers.append(await _answer(hot, method, path, **kwargs))
                reached.append(counter.calls - before)
                plain_answers.append(await _answer(plain, method, path, **kwargs))
    return hot_answers, plain_answers, reached


async def test_the_hot_path_answers_as_fastapi_does(sqlite_template: Path, tmp_path: Path) -> None:
    script = REGULAR + RAISED + DECLINED + NOT_HOT
    hot, plain, reached = await _run_both(sqlite_template, tmp_path, script)
    for step, (a, b) in enumerate(zip(hot, plain, strict=True)):
        assert a == b, f"step {step}: {script[step][:2]}"
    regular_and_raised = len(REGULAR) + len(RAISED)
    assert reached[:regular_and_raised] == [0] * regular_and_raised
    assert reached[regular_and_raised:] == [1] * (len(DECLINED) + len(NOT_HOT))
    # The script did what it says: writes, replays, errors and declines all happened.
    statuses = [answer[0] for answer in hot]
    writes = [201] * 6  # two threads, three appends (one replayed), a batch
    reads = [200] * 6
    # Patch, two puts, state, history; new thread, in the flat form and replayed; restore.
    changes = [200] * 5 + [201, 201, 201, 200]
    assert statuses[: len(REGULAR)] == writes + reads + changes
    assert hot[4][1]["idempotent-replayed"] == "true"
    assert hot[len(REGULAR) - 2][1]["idempotent-replayed"] == "true"
    assert hot[len(REGULAR) - 2][2]["message"]["role"] == "assistant"
    assert statuses[len(REGULAR) : regular_and_raised] == [
        404,
        404,
        404,
        412,
        409,
        422,
        404,
        422,
        404,
        404,
    ]
    declined = statuses[regular_and_raised : regular_and_raised + len(DECLINED)]
    assert declined == [422] * len(DECLINED)
    # Merge patch, archive, purge, a method no route has here (405), a space.
    assert statuses[-len(NOT_HOT) :] == [200, 200, 204, 405, 200]
    assert hot[-2][1]["allow"] == "GET, POST"


def _raw(text: str, **headers: str) -> dict[str, Any]:
    return {"content": text.encode(), "headers": {"Content-Type": "application/json", **headers}}


# Input no backend can store (validation.py): the same 422 with and without the hot path.
# A body the rules refuse is FastAPI's to answer (after the key check, as FastAPI orders it).
HOSTILE_BODIES: list[Request] = [
    ("POST", THREADS, _raw('{"title": "a\\u0000"}')),
    ("POST", THREADS, _raw('{"owner_id": "\\ud800"}')),
    ("POST", THREADS, _raw('{"metadata": {"a": [{"k\\u0000": 1}]}}')),
    (
        "POST",
        THREADS,
        _raw('{"metadata": {"n": 18446744073709551616}}', **{"Idempotency-Key": "i"}),
    ),
    ("POST", THREADS, _raw('{"state": NaN}')),
    ("POST", THREADS, _raw('{"state": {"x": -Infinity}}')),
    ("POST", f"{THREADS}/messages", _raw('{"message": {"content": "\\udfff"}}')),
    ("POST", f"{THREADS}/t1/messages", _raw('{"content": "x\\u0000"}')),
    ("POST", f"{THREADS}/t1/messages", _raw('{"role": "\\ud800"}')),
    (
        "POST",
        f"{THREADS}/t1/messages",
        _raw('{"metadata": {"n": 1e400}}', **{"Idempotency-Key": "j"}),
    ),
    ("POST", f"{THREADS}/t1/messages/batch", _raw('{"messages": [{}, {"content": "\\u0000"}]}')),
    ("PATCH", f"{THREADS}/t1", _raw('{"title": "\\ud800"}')),
    ("PUT", f"{THREADS}/t1/state", _raw('{"state": [9223372036854775808]}')),
]
# Queries, cursors and headers: refused on the hot path itself, by the same code.
HOSTILE_QUERIES: list[Request] = [
    ("GET", f"{THREADS}/t1/messages?role=%00", {}),
    ("GET", f"{THREADS}/t1/messages?after=WzkyMjMzNzIwMzY4NTQ3NzU4MDhd", {}),  # [2**63]
    ("GET", f"{THREADS}/t1/state/history?before=WyJ4Il0", {}),  # ["x"]
    ("GET", f"{THREADS}?after=WyJ4IiwieSJd", {}),  # ["x","y"]
    ("GET", f"{THREADS}?metadata[%00]=v", {}),
    ("GET", f"{THREADS}?owner_id=%00", {}),
    ("GET", f"{THREADS}?" + "&".join(f"metadata[k{i}]=v" for i in range(999)), {}),
    ("PUT", f"{THREADS}/t1/state", {"json": {"state": 1}, "headers": {"If-Match": b'"\xb2"'}}),
    ("GET", f"{THREADS}/t1", {"headers": {"X-API-Key": "tl_\x00"}}),
]


async def test_the_hot_path_refuses_what_fastapi_refuses(
    sqlite_template: Path, tmp_path: Path
) -> None:
    setup: list[Request] = [("POST", THREADS, {"json": {"id": "t1"}})]
    script = setup + HOSTILE_BODIES + HOSTILE_QUERIES
    hot, plain, reached = await _run_both(sqlite_template, tmp_path, script)
    for step, (a, b) in enumerate(zip(hot, plain, strict=True)):
        assert a == b, f"step {step}: {script[step][:2]}"
    assert [answer[0] for answer in hot] == [201] + [422] * (len(script) - 1)
    assert all(a[1]["content-type"] == "application/problem+json" for a in hot[1:])
    assert reached == [0] + [1] * len(HOSTILE_BODIES) + [0] * len(HOSTILE_QUERIES)


async def test_a_hostile_body_without_a_key_is_401_on_both_paths(
    sqlite_template: Path, tmp_path: Path
) -> None:
    template, headers = await _with_keys(sqlite_template, tmp_path)
    hot, plain, _ = await _run_both(template, tmp_path, HOSTILE_BODIES, headers=headers["no key"])
    assert hot == plain
    assert {answer[0] for answer in hot} == {401}


CALLERS = ["admin", "writer", "reader", "wrong key", "no key"]


@pytest.mark.parametrize("caller", CALLERS)
async def test_every_caller_gets_the_answer_fastapi_gives(
    sqlite_template: Path, tmp_path: Path, caller: str
) -> None:
    template, headers = await _with_keys(sqlite_template, tmp_path)
    script = REGULAR + RAISED + DECLINED + NOT_HOT
    hot, plain, reached = await _run_both(template, tmp_path, script, headers=headers[caller])
    for step, (a, b) in enumerate(zip(hot, plain, strict=True)):
        assert a == b, f"step {step}: {script[step][:2]}"
    statuses = [answer[0] for answer in hot]
    regular_and_raised = len(REGULAR) + len(RAISED)
    # The hot path answered the regular requests itself, whatever the answer was.
    assert reached[:regular_and_raised] == [0] * regular_and_raised
    if caller in ("wrong key", "no key"):
        assert statuses[:regular_and_raised] == [401] * regular_and_raised
        assert hot[0][1]["www-authenticate"] is not None
    elif caller == "reader":
        writes = [i for i, (method, _, _) in enumerate(REGULAR) if method != "GET"]
        assert {statuses[i] for i in writes} == {403}
    else:
        creates = [i for i, (method, path, _) in enumerate(REGULAR) if method == "POST"]
        creates = [i for i in creates if not REGULAR[i][1].endswith("/restore")]
        assert [statuses[i] for i in creates] == [201] * len(creates)  # writes went through


async def test_an_unexpected_error_is_a_bare_500(
    sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with _client(sqlite_template, tmp_path, "hot", True) as (client, counter):
        await client.post(THREADS, json={"id": "t1"})

        async def broken(*_args: Any, **_kwargs: Any) -> Any:
            raise RuntimeError("secret internals")

        services = services_of(_app_of(client))
        monkeypatch.setattr(services.threads, "append", broken)
        response = await client.post(f"{THREADS}/t1/messages", json={"content": "x"})
        assert counter is not None
        assert counter.calls == 0
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("internal-error")
    assert "secret" not in response.text
    assert "Traceback" not in response.text
    assert response.headers["x-request-id"]


async def test_a_body_over_the_limit_without_a_length_is_413_and_writes_nothing(
    sqlite_template: Path, tmp_path: Path
) -> None:
    limit = 2048

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"content": "'
        for _ in range(10):
            yield b"x" * 512
        yield b'"}'

    limits = Limits(request_body_bytes=limit)
    async with _client(sqlite_template, tmp_path, "hot", True, limits=limits) as (client, counter):
        await client.post(THREADS, json={"id": "t1"})
        response = await client.post(f"{THREADS}/t1/messages", content=chunks())
        page = (await client.get(f"{THREADS}/t1/messages")).json()
        assert counter is not None
        assert counter.calls == 0
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert page["data"] == []


async def test_a_client_gone_before_its_body_gets_no_answer_and_writes_nothing(
    sqlite_template: Path, tmp_path: Path
) -> None:
    async with _client(sqlite_template, tmp_path, "hot", True) as (client, _):
        await client.post(THREADS, json={"id": "t1"})
        app = _app_of(client)
        sent: list[Message] = []

        async def receive() -> Message:
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": f"{THREADS}/t1/messages",
            "raw_path": f"{THREADS}/t1/messages".encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"localhost"), (b"content-type", b"application/json")],
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 80),
            "state": {},
        }
        await app(scope, receive, send)
        page = (await client.get(f"{THREADS}/t1/messages")).json()
    assert not [m for m in sent if m["type"] == "http.response.start" and m["status"] == 201]
    assert page["data"] == []


def _endpoint_name(endpoint: Callable[..., Any] | None) -> str:
    assert endpoint is not None
    return endpoint.__name__


def test_the_hot_endpoints_are_the_ones_named(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path / "unopened.db"))
    hot_routers = (messages.router, state.router, threads.router)
    table = hot_routes_of(app.router.routes, endpoints_of(hot_routers))
    hot = {route.route.endpoint.__name__ for route in table.hot if route is not None}
    assert hot == {
        "list_messages",
        "append_message",
        "append_messages",
        "get_state",
        "put_state",
        "state_history",
        "create_thread",
        "create_thread_with_message",
        "list_threads",
        "get_thread",
        "update_thread",
        "restore_thread",
        "get_message",
        "delete_message",
    }
    # A merge patch body and a plain query parameter are FastAPI's to read.
    cold = {
        _endpoint_name(route.endpoint)
        for route, compiled in zip(table.routes, table.hot, strict=True)
        if compiled is None and route.endpoint in endpoints_of(hot_routers)
    }
    assert cold == {"patch_state", "delete_thread"}


async def test_hot_requests_are_measured_under_their_route(
    sqlite_template: Path, tmp_path: Path
) -> None:
    async with _client(sqlite_template, tmp_path, "hot", True) as (client, _):
        await client.post(THREADS, json={"id": "t1"})
        await client.get(f"{THREADS}/t1/messages")
        metrics = (await client.get("/metrics")).text
    assert 'route="/v1/spaces/{space_id}/threads/{thread_id}/messages"' in metrics
    assert 'route="/v1/spaces/{space_id}/threads"' in metrics


class _Item(BaseModel):
    a: int


async def test_an_endpoint_that_reads_the_body_itself_still_gets_it() -> None:
    router = APIRouter()

    @router.post("/v1/echo/{name}")
    async def echo(
        name: Annotated[str, fastapi.Path()], item: _Item, request: fastapi.Request
    ) -> Response:
        return Response(f"{name} {item.a} ".encode() + await request.body())

    application = FastAPI()
    application.include_router(router)
    table = hot_routes_of(application.router.routes, endpoints_of([router]))
    routes = zip(table.routes, table.hot, strict=True)
    assert [route.endpoint for route, hot in routes if hot is not None] == [echo]
    application.add_middleware(HotRoutes, application=application, endpoints=endpoints_of([router]))
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        response = await client.post(
            "/v1/echo/x", content=b'{"a": 7}', headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 200
    assert response.content == b'x 7 {"a": 7}'
