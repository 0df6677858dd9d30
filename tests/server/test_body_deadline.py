"""The request body's deadline in the ASGI layer (server/middleware.py), in process: under a
server that keeps it (``threadloom serve`` puts a ``BodyDeadline`` in the scope) the
middleware answers 408 when the server marks it expired, and keeps no timer of its own;
under any other server it keeps the deadline itself. Over real sockets, see
test_timeouts.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from starlette.types import Message

from tests.fixtures.databases import make_settings
from threadloom.config import Settings
from threadloom.server.app import create_app
from threadloom.server.middleware import BODY_DEADLINE, BodyDeadline

pytestmark = pytest.mark.anyio

THREADS = "/v1/spaces/default/threads"
BODY = b'{"id": "late", "title": "' + b"t" * 50 + b'"}'


def _scope(extensions: dict[str, Any] | None = None) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": THREADS,
        "raw_path": THREADS.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"localhost"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(BODY)).encode()),
            (b"x-request-id", b"req-late-body"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("localhost", 80),
    }
    if extensions is not None:
        scope["extensions"] = extensions
    return scope


class _Client:
    """Sends the first half of ``BODY`` at once and the rest when ``rest`` is set."""

    def __init__(self) -> None:
        self.rest = asyncio.Event()
        self.parts = [BODY[:20], BODY[20:]]
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        if len(self.parts) == 2:
            return {"type": "http.request", "body": self.parts.pop(0), "more_body": True}
        if self.parts:
            await self.rest.wait()
            return {"type": "http.request", "body": self.parts.pop(0), "more_body": False}
        await asyncio.Event().wait()  # the client stays connected
        raise AssertionError("unreachable")

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def headers(self) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.sent[0]["headers"]}

    @property
    def body(self) -> dict[str, Any]:
        data = b"".join(m.get("body", b"") for m in self.sent[1:])
        parsed: dict[str, Any] = orjson.loads(data)
        return parsed


@pytest.fixture
async def late_app(sqlite_url: str) -> AsyncIterator[FastAPI]:
    settings: Settings = make_settings(
        database_url=sqlite_url, migrate_on_start=False, body_timeout_seconds=0.2
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


async def _thread_exists(app: FastAPI) -> bool:
    client = _Client()
    scope = _scope() | {"method": "GET", "path": f"{THREADS}/late", "headers": []}
    scope["raw_path"] = scope["path"].encode()
    await app(scope, client.receive, client.send)
    return client.status == 200


def _assert_408(client: _Client) -> None:
    assert client.status == 408
    assert client.headers["content-type"] == "application/problem+json"
    assert client.headers["connection"] == "close"
    assert client.headers["x-request-id"] == "req-late-body"
    assert client.body["detail"] == "the request body did not arrive within 0.2 s"


async def test_without_a_server_deadline_the_middleware_keeps_its_own(late_app: FastAPI) -> None:
    client = _Client()  # the rest of the body never comes
    await asyncio.wait_for(late_app(_scope(), client.receive, client.send), timeout=10)
    _assert_408(client)
    assert not await _thread_exists(late_app)


async def test_a_body_the_server_marks_late_is_answered_408(late_app: FastAPI) -> None:
    deadline = BodyDeadline()
    client = _Client()
    call = asyncio.ensure_future(
        late_app(_scope({BODY_DEADLINE: deadline}), client.receive, client.send)
    )
    await asyncio.sleep(0.05)
    deadline.expired = True  # what the protocol does, then it wakes receive
    client.rest.set()
    await asyncio.wait_for(call, timeout=10)
    _assert_408(client)
    assert not await _thread_exists(late_app)


async def test_under_a_server_deadline_the_middleware_keeps_no_timer(late_app: FastAPI) -> None:
    deadline = BodyDeadline()
    client = _Client()
    call = asyncio.ensure_future(
        late_app(_scope({BODY_DEADLINE: deadline}), client.receive, client.send)
    )
    await asyncio.sleep(0.5)  # past the middleware's 0.2 s; the server's has not passed
    client.rest.set()
    await asyncio.wait_for(call, timeout=10)
    assert client.status == 201
    assert await _thread_exists(late_app)
