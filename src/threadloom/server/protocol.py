"""The HTTP/1.1 protocol ``threadloom serve`` runs: uvicorn's httptools one, with deadlines.

uvicorn closes an idle kept-alive connection (``timeout_keep_alive``) but waits for ever on
a client that has begun a request and stalls, so a few thousand such sockets would hold
as many connections (and file descriptors) for good. Here:

- a request's line and headers must all arrive within ``header_timeout`` seconds of the
  connection opening, or of the request's first byte on a kept-alive connection; else the
  connection is closed without an answer;
- the rest of a body the application did not read (it answered without it) must have
  arrived within ``body_timeout`` seconds of the answer; else the connection is closed. A
  body the application reads has its deadline in the ASGI layer
  (``middleware.RequestBodyMiddleware``), which answers 408;
- malformed HTTP is answered with one short, fixed ``400`` problem document, and the
  connection closed.

It overrides uvicorn's own hooks (``on_message_begin``, ``on_headers_complete``,
``on_message_complete``, ``on_response_complete``, ``send_400_response``): hence
the upper bound on uvicorn in pyproject.toml.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from ..errors import PROBLEM_BASE
from .responses import PROBLEM_MEDIA_TYPE

__all__ = ["BAD_REQUEST_BODY", "TimedHttpToolsProtocol"]

BAD_REQUEST_BODY = orjson.dumps(
    {
        "type": PROBLEM_BASE + "bad-request",
        "title": "Bad request",
        "status": 400,
        "detail": "the request is not valid HTTP/1.1",
    }
)


class TimedHttpToolsProtocol(HttpToolsProtocol):
    """One connection; uvicorn makes one per accepted socket."""

    def __init__(
        self, *args: Any, header_timeout: float = 10.0, body_timeout: float = 30.0, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self._deadline: asyncio.TimerHandle | None = None

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.logger.debug("closed a connection that stalled in the middle of a request")
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:  # a next request on a kept-alive connection
            self._arm(self.header_timeout)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def _answered_before_its_body(self) -> bool:
        cycle = self.cycle
        return cycle is not None and cycle.response_complete and cycle.more_body

    def on_message_complete(self) -> None:
        if self._answered_before_its_body():
            self._disarm()
            # The body's bytes stopped uvicorn's keep-alive timer: start it again.
            self._unset_keepalive_if_required()
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._answered_before_its_body() and not self.transport.is_closing():
            self._arm(self.body_timeout)

    def _unsupported_upgrade_warning(self) -> None:
        # No route speaks another protocol: the request is served as plain HTTP.
        self.logger.debug("ignored an Upgrade header")

    def send_400_response(self, msg: str) -> None:  # noqa: ARG002 (one fixed answer)
        self._disarm()
        content = [STATUS_LINE[400]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: " + PROBLEM_MEDIA_TYPE.encode() + b"\r\n",
                b"content-length: " + str(len(BAD_REQUEST_BODY)).encode() + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                BAD_REQUEST_BODY,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()
