"""ASGI middleware for the request body: its size limit, enforced before the body is read
whole, and its read deadline.

A body the application reads must have arrived whole within ``timeout_seconds``, else the
request is answered ``408`` and its connection closed (``Connection: close``): a client that
stalls half way through a body, or sends it a byte at a time, holds no connection for long.
(A deadline per part would not bound the byte at a time client; with the body limit of
1 MiB, the 30 s default asks for 35 kB/s at the least.) Once the body is whole, ``receive``
waits as long as the application wants (a streaming response listens on it for the client
going away).

Who keeps the time depends on the server:

- under ``threadloom serve``, its HTTP protocol (protocol.py) does, from the end of the
  request's head, with one timer per connection; it puts a ``BodyDeadline`` in the scope's
  extensions and marks it expired, and the next ``receive`` here answers 408;
- under any other ASGI server, this middleware does, from the application's first read,
  with ``asyncio.timeout_at`` around each ``receive`` (not an anyio cancel scope, which costs
  about twice as much; the server runs on asyncio alone: asyncpg and the event hub need it).
"""

from __future__ import annotations

import asyncio
from typing import NoReturn

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import PayloadTooLarge
from .problems import problem_response

__all__ = ["BODY_DEADLINE", "BodyDeadline", "RequestBodyMiddleware"]

BODY_DEADLINE = "threadloom.body_deadline"
"""The key of a ``BodyDeadline`` in an HTTP scope's ``extensions``."""


class BodyDeadline:
    """A server's word that it keeps a request body's deadline: ``expired`` turns true when
    the body did not arrive whole in time (and the server wakes a ``receive`` waiting on
    it)."""

    __slots__ = ("expired",)

    def __init__(self) -> None:
        self.expired = False


class RequestBodyMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int, timeout_seconds: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds

    def _error(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"the request body is over the limit of {self.max_bytes} bytes")

    def _late(self) -> NoReturn:
        # Raised as an HTTPException for the reason the limit's is (see below).
        raise HTTPException(
            408,
            f"the request body did not arrive within {self.timeout_seconds:g} s",
            headers={"Connection": "close"},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > self.max_bytes:
                    error = self._error()
                    response = problem_response(error.to_problem(scope["path"]), 413)
                    await response(scope, receive, send)
                    return
                break
        extensions = scope.get("extensions")
        server_deadline = extensions.get(BODY_DEADLINE) if extensions else None
        seen = 0
        whole = False
        deadline: float | None = None

        async def timed_receive() -> Message:
            nonlocal deadline
            if deadline is None:
                deadline = asyncio.get_running_loop().time() + self.timeout_seconds
            try:
                async with asyncio.timeout_at(deadline):
                    return await receive()
            except TimeoutError:
                self._late()

        async def limited_receive() -> Message:
            nonlocal seen, whole
            if whole:
                return await receive()
            if server_deadline is None:
                message = await timed_receive()
            else:
                message = await receive()
                if server_deadline.expired:
                    self._late()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # An HTTPException passes through FastAPI's body reader unchanged (any
                    # other exception would become a 400); problems.py renders it.
                    raise HTTPException(413, self._error().detail)
                whole = not message.get("more_body", False)
            else:
                whole = True
            return message

        await self.app(scope, limited_receive, send)
