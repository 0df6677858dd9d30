"""No secret and no request content reaches a log line: a path is logged as its route
template (or ``<unmatched>``), never raw, never with its query; an exception is logged with
its traceback and type but not its message (which may quote a body or SQL parameters)."""

from __future__ import annotations

import io
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from pydantic import TypeAdapter

from tests.fixtures.app import services_of
from tests.fixtures.servers import LiveServer
from threadloom.logs import (
    JsonFormatter,
    RedactedError,
    RequestIdFilter,
    TextFormatter,
    redacted,
)

pytestmark = pytest.mark.anyio

THREADS = "/v1/spaces/default/threads"
MESSAGES = "/v1/spaces/{space_id}/threads/{thread_id}/messages"
# Built at run time, so that no source line a traceback shows holds them.
SECRET = "tl_" + "path" * 10
QUERY_SECRET = "tl_" + "query" * 8
CONTENT = "my card is " + "4" * 16


def _raw_request(url: str, data: bytes) -> bytes:
    """Sends ``data`` on a new connection and reads until the server closes it."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer and b"connection: close" not in answer.lower():
                break
    return answer


def _wait_for(server: LiveServer, *needles: str) -> str:
    deadline = time.monotonic() + 10
    while True:
        log = server.log()
        if all(needle in log for needle in needles) or time.monotonic() > deadline:
            return log
        time.sleep(0.1)


@pytest.mark.server
def test_a_live_server_logs_no_raw_path_and_no_query(
    sqlite_url: str, live_servers: Callable[..., LiveServer]
) -> None:
    server = live_servers(sqlite_url)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        unmatched = client.get(
            f"/v1/nothing-here/{SECRET}", headers={"X-Request-ID": "req-unmatched"}
        )
        assert unmatched.status_code == 404
        queried = client.get(
            f"{THREADS}?api_key={QUERY_SECRET}", headers={"X-Request-ID": "req-query"}
        )
        assert queried.status_code == 200
        matched = client.get(f"{THREADS}/{SECRET}/messages", headers={"X-Request-ID": "req-id"})
        assert matched.status_code == 404
    # A WebSocket handshake: uvicorn would log its path and query itself.
    upgrade = _raw_request(
        server.url,
        f"GET /ws/{SECRET}?token={QUERY_SECRET} HTTP/1.1\r\nHost: x\r\n"
        "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Request-ID: req-ws\r\n\r\n".encode(),
    )
    assert upgrade.startswith(b"HTTP/1.1 404")
    # Malformed HTTP: answered by the server itself.
    malformed = _raw_request(server.url, f"GET /{SECRET} HTTP/1.1\r\nno colon\r\n\r\n".encode())
    assert malformed.startswith(b"HTTP/1.1 400")

    log = _wait_for(server, "req-unmatched", "req-query", "req-id", "req-ws")
    assert SECRET not in log
    assert QUERY_SECRET not in log
    access = [line for line in log.splitlines() if " threadloom.access " in line]
    by_id = {line.split("[", 1)[1].split("]", 1)[0]: line for line in access}
    assert "GET <unmatched> 404" in by_id["req-unmatched"]
    assert f"GET {THREADS.replace('default', '{space_id}')} 200" in by_id["req-query"]
    assert f"GET {MESSAGES} 404" in by_id["req-id"]
    assert "GET <unmatched> 404" in by_id["req-ws"]


# Exceptions ---------------------------------------------------------------------------------


def _broken_with_content(kind: str) -> Callable[..., Any]:
    """A store-level failure whose exception quotes the request's content."""

    async def broken(_principal: Any, _space: str, _thread: str, messages: Any) -> Any:
        content = messages[0].content
        if kind == "validation":  # pydantic shows the input_value
            TypeAdapter(int).validate_python(content)
        try:
            raise LookupError(f"no row for {content!r}")
        except LookupError as exc:  # a driver's error shows its parameters, chained
            raise RuntimeError(f"INSERT INTO messages ... [parameters: ({content!r},)]") from exc

    return broken


@pytest.fixture
async def keyless_api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    # The error middleware re-raises after sending the 500 (for the server to log).
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        yield client


@pytest.mark.parametrize("kind", ["validation", "driver"])
async def test_a_500_logs_no_request_content(
    app: FastAPI,
    keyless_api: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
) -> None:
    assert (await keyless_api.post(THREADS, json={"id": "t1"})).status_code == 201
    monkeypatch.setattr(services_of(app).threads, "append", _broken_with_content(kind))
    caplog.set_level(logging.INFO)
    caplog.handler.addFilter(RequestIdFilter())  # as the server's own handler has
    response = await keyless_api.post(
        f"{THREADS}/t1/messages",
        json={"content": CONTENT},
        headers={"X-Request-ID": "req-500"},
    )
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "req-500"
    assert CONTENT not in response.text
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors
    assert CONTENT not in caplog.text
    for formatter in (TextFormatter(), JsonFormatter()):
        for record in caplog.records:
            assert CONTENT not in formatter.format(record)
    assert f"unhandled error on POST {MESSAGES}" in caplog.text
    assert any("[req-500] unhandled error" in TextFormatter().format(r) for r in errors)
    # What is logged still says where it failed and what kind of error it was.
    assert "in broken" in caplog.text
    assert ("ValidationError" if kind == "validation" else "RuntimeError") in caplog.text


def test_the_formatters_redact_any_exception_they_are_given() -> None:
    """uvicorn logs the application's exception itself ("Exception in ASGI application"):
    the server's formatters withhold its message too."""
    content = CONTENT
    try:
        try:
            TypeAdapter(int).validate_python(content)
        except ValueError as exc:
            raise KeyError(content) from exc
    except KeyError as exc:
        raw = exc
    for formatter in (TextFormatter(), JsonFormatter()):
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter)
        logger = logging.getLogger("uvicorn.error.test-redaction")
        logger.addHandler(handler)
        logger.propagate = False
        try:
            logger.error("Exception in ASGI application", exc_info=raw)
        finally:
            logger.removeHandler(handler)
        text = stream.getvalue()
        assert content not in text
        assert "KeyError (message withheld)" in text
        assert "1 validation error(s) for int: int_parsing" in text
        assert "test_the_formatters_redact_any_exception_they_are_given" in text


def test_a_stand_in_keeps_the_chain_and_the_frames() -> None:
    def fail() -> None:
        raise ValueError(CONTENT)

    try:
        fail()
    except ValueError as exc:
        stand_in = redacted(exc)
        original = exc
    assert isinstance(stand_in, RedactedError)
    assert CONTENT not in str(stand_in)
    assert str(stand_in) == "ValueError (message withheld)"
    assert stand_in.__traceback__ is original.__traceback__
    assert redacted(stand_in) is stand_in
