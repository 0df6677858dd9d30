"""The HTTP/1.1 protocol ``threadloom serve`` runs: uvicorn's httptools one, with deadlines.

uvicorn closes an idle kept-alive connection (``timeout_keep_alive``) but waits for ever on
a client that has begun a request and stalls, so a few thousand such sockets would hold
as many connections (and file descriptors) for good. Here:

- a request's line and headers must all arrive within ``header_timeout`` seconds of the
  connection opening, or of the request's first byte on a kept-alive connection; else the
  connection is closed without an answer;
- its body must arrive whole within ``body_timeout`` seconds of the end of its head. When it
  does not, a request the application is still reading is answered 408 by the body
  middleware (``middleware.RequestBodyMiddleware``: this protocol marks the scope's
  ``BodyDeadline`` expired and wakes its ``receive``); one answered already, or answered
  later without its body, has its connection closed;
- malformed HTTP is answered with one short, fixed ``400`` problem document, and the
  connection closed.

The deadlines cost a request two reads of the clock: each phase only sets the time it must
end by, and one timer per connection, which never fires later than the earliest deadline
and at most every ``min(header_timeout, body_timeout)`` seconds while a request is under
way, closes what is late (a timer per request cost appends several per cent).

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
from .middleware import BODY_DEADLINE, BodyDeadline
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
        self._tick = min(header_timeout, body_timeout)
        self._due: float | None = None
        """When the head or body now arriving must be whole by (None: nothing is)."""
        self._timer: asyncio.TimerHandle | None = None
        self._body: BodyDeadline | None = None
        """The deadline of the body now arriving, once its head is whole."""

    def _watch(self, seconds: float) -> None:
        now = self.loop.time()
        self._due = now + seconds
        if self._timer is None:
            self._timer = self.loop.call_at(min(self._due, now + self._tick), self._check)

    def _check(self) -> None:
        self._timer = None
        due = self._due
        if due is None or self.transport.is_closing():
            return
        now = self.loop.time()
        if now < due:
            # Never later than a deadline set before it fires again: each is >= now + tick.
            self._timer = self.loop.call_at(min(due, now + self._tick), self._check)
            return
        self._due = None
        cycle, body = self.cycle, self._body
        if body is not None and cycle is not None and not cycle.response_started:
            # The application may be reading it: the body middleware answers 408. When the
            # answer is not that (it was answered without its body), see on_response_complete.
            body.expired = True
            cycle.message_event.set()
            return
        self.logger.debug("closed a connection that stalled in the middle of a request")
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch(self.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._due = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._due is None:  # a next request on a kept-alive connection
            self._watch(self.header_timeout)

    def on_headers_complete(self) -> None:
        cycle = self.cycle
        super().on_headers_complete()
        if self.cycle is cycle:  # an upgrade: no request was made
            self._due = None
            return
        self._body = BodyDeadline()
        extensions: dict[str, Any] = {**self.scope.get("extensions", {})}
        extensions[BODY_DEADLINE] = self._body
        self.scope["extensions"] = extensions
        self._watch(self.body_timeout)

    def _answered_before_its_body(self) -> bool:
        cycle = self.cycle
        return cycle is not None and cycle.response_complete and cycle.more_body

    def on_message_complete(self) -> None:
        self._due = None
        self._body = None
        if self._answered_before_its_body():
            # The body's bytes stopped uvicorn's keep-alive timer: start it again.
            self._unset_keepalive_if_required()
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        body = self._body
        if body is not None and body.expired and not self.transport.is_closing():
            self.logger.debug("closed a connection whose request body stalled")
            self.transport.close()

    def _unsupported_upgrade_warning(self) -> None:
        # No route speaks another protocol: the request is served as plain HTTP.
        self.logger.debug("ignored an Upgrade header")

    def send_400_response(self, msg: str) -> None:  # noqa: ARG002 (one fixed answer)
        self._due = None
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
