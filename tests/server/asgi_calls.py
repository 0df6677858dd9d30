"""One request to an ASGI app in process, read up to a bound: endless event streams too.

httpx's ``ASGITransport`` waits for the application to finish, which an event stream never
does. :func:`call` sends one request, hands control to ``after_start`` once the response
has started (to make something happen that the stream should carry), reads the body until
``stop_at`` appears in it, the body ends or ``max_bytes`` are read, then disconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.types import ASGIApp, Message

__all__ = ["Reply", "call"]

SAFETY_SECONDS = 30
"""Only so that a stream that never shows ``stop_at`` fails the test instead of hanging it."""


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


async def call(
    app: ASGIApp,
    method: str,
    path: str,
    *,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    after_start: Callable[[], Awaitable[None]] | None = None,
    stop_at: bytes | None = None,
    max_bytes: int = 1_000_000,
) -> Reply:
    all_headers = {"host": "localhost", **{k.lower(): v for k, v in (headers or {}).items()}}
    if body:
        all_headers["content-length"] = str(len(body))
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": urlencode(params or {}).encode(),
        "headers": [(k.encode(), v.encode()) for k, v in all_headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("localhost", 80),
    }
    disconnect = asyncio.Event()
    started = asyncio.Event()
    finished = asyncio.Event()
    reply = Reply(0, {}, b"")
    request_sent = False
    complete = False

    async def receive() -> Message:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal complete
        if message["type"] == "http.response.start":
            reply.status = message["status"]
            reply.headers = {k.decode().lower(): v.decode() for k, v in message["headers"]}
            started.set()
        elif message["type"] == "http.response.body":
            reply.body += message.get("body", b"")
            complete = not message.get("more_body", False)
            if complete or len(reply.body) >= max_bytes or (stop_at and stop_at in reply.body):
                finished.set()

    async def run() -> None:
        try:
            await app(scope, receive, send)
        finally:
            started.set()
            finished.set()

    task = asyncio.create_task(run())
    try:
        async with asyncio.timeout(SAFETY_SECONDS):
            await started.wait()
            if after_start is not None and not task.done() and reply.status == 200:
                await after_start()
            await finished.wait()
            if complete:
                await task
    finally:
        disconnect.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return reply
