"""An OpenAI-compatible chat-completions server on 127.0.0.1, for tests.

A small HTTP/1.1 server on its own event loop in a background thread, so it serves any test
(sync or async) and can misbehave in ways a framework would not let it: cut a chunked body
half way, or never answer. Every request is recorded before it is answered::

    with StubOpenAI() as stub:
        provider = OpenAICompatProvider(base_url=stub.base_url, api_key="sk-test")
        ...
        assert stub.requests[-1].body["temperature"] == 0.2

``POST /v1/chat/completions`` behaves by mode: the ``X-Stub-Mode`` header if sent, else the
model name (an unknown name is ``stub-stream``):

- ``stub-stream``: ``reply`` word by word as server-sent events, a chunk with the finish
  reason, then (with ``stream_options.include_usage``) one with the usage and no choices,
  then ``[DONE]``. ``max_tokens`` (or ``max_completion_tokens``) cuts the reply to that many
  words, finish reason ``length``. A request without ``"stream": true`` gets one JSON
  ``chat.completion`` instead. Usage: ``prompt_tokens`` is 10 per message,
  ``completion_tokens`` one per word sent.
- ``stub-echo``: as ``stub-stream``, but the reply is the request body as sorted JSON.
- ``stub-429`` / ``stub-500``: that status with an OpenAI-style error body naming the model,
  and ``retry-after-ms: 10`` so that the SDK's retries are quick.
- ``stub-400``: a 400 "model does not exist" error.
- ``stub-401``: a 401 whose message quotes the bearer token it was sent (as careless servers
  do), to check that it is redacted.
- ``stub-stall``: answer nothing for ``stall_seconds``, then as ``stub-stream``.
- ``stub-stall-mid``: send the first word, then stall.
- ``stub-drop``: send two words, then cut the connection inside the chunked body.
- ``stub-hangup``: close the connection without answering.
- ``stub-error-event``: send one word, then an ``{"error": ...}`` event.
- ``stub-no-finish``: send the words and ``[DONE]`` but no finish reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

__all__ = ["RecordedRequest", "StubOpenAI"]

DEFAULT_REPLY = "Hello from the stub: one two three."
PROMPT_TOKENS_PER_MESSAGE = 10


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    """Lower-cased names."""
    body: Any
    mode: str

    @property
    def model(self) -> str | None:
        return self.body.get("model") if isinstance(self.body, dict) else None


class StubOpenAI:
    def __init__(self, *, reply: str = DEFAULT_REPLY, stall_seconds: float = 30.0) -> None:
        self.reply = reply
        self.stall_seconds = stall_seconds
        self.port = 0
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    # Lifecycle ------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> StubOpenAI:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="stub-openai", daemon=True)
        self._thread.start()
        start = asyncio.start_server(self._handle, "127.0.0.1", 0)
        self._server = asyncio.run_coroutine_threadsafe(start, loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> StubOpenAI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()
        await asyncio.get_running_loop().shutdown_asyncgens()

    # What tests look at ---------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def attempts(self, mode: str) -> int:
        """How many requests of this mode arrived (retries included)."""
        return sum(1 for request in self.requests if request.mode == mode)

    def reset(self, *, reply: str = DEFAULT_REPLY) -> None:
        with self._lock:
            self._requests.clear()
        self.reply = reply

    # Serving --------------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client went away, as clients that time out do
        except asyncio.CancelledError:
            # Only stop() cancels a handler (one still stalling); end quietly, since asyncio
            # logs a handler task that ends cancelled as an error.
            pass
        finally:
            self._writers.discard(writer)
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        request_line, *header_lines = head.split("\r\n")
        method, path, _ = request_line.split(" ", 2)
        headers: dict[str, str] = {}
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        raw = await reader.readexactly(int(headers.get("content-length", "0")))
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        model = body.get("model") if isinstance(body, dict) else None
        mode = headers.get("x-stub-mode") or str(model or "stub-stream")
        with self._lock:
            self._requests.append(RecordedRequest(method, path, headers, body, mode))

        if method != "POST" or path.rstrip("/") != "/v1/chat/completions":
            await _send_json(writer, 404, _error_body(f"no route {method} {path}", "not_found"))
            return
        if not isinstance(body, dict):
            await _send_json(writer, 400, _error_body("the body is not a JSON object", "invalid"))
            return
        if mode == "stub-hangup":
            return
        if mode == "stub-429":
            message = f"Rate limit reached for {model} (stub): slow down"
            body_429 = _error_body(message, "rate_limit_exceeded")
            await _send_json(writer, 429, body_429, {"retry-after-ms": "10"})
            return
        if mode == "stub-500":
            message = f"The stub failed while serving {model}"
            await _send_json(
                writer, 500, _error_body(message, "server_error"), {"retry-after-ms": "10"}
            )
            return
        if mode == "stub-400":
            message = f"The model `{model}` does not exist or you do not have access to it."
            await _send_json(writer, 400, _error_body(message, "model_not_found"))
            return
        if mode == "stub-401":
            # Like some servers, quote the key back, so tests can check that it is redacted.
            key = headers.get("authorization", "").removeprefix("Bearer ")
            message = f"Incorrect API key provided: {key}."
            await _send_json(writer, 401, _error_body(message, "invalid_api_key"))
            return
        if mode == "stub-stall":
            await asyncio.sleep(self.stall_seconds)

        text = json.dumps(body, sort_keys=True) if mode == "stub-echo" else self.reply
        words = [word + " " for word in text.split(" ")]
        words[-1] = words[-1][:-1]
        finish_reason = "stop"
        limit = body.get("max_tokens", body.get("max_completion_tokens"))
        if isinstance(limit, int) and limit < len(words):
            words, finish_reason = words[:limit], "length"
        messages = body.get("messages")
        prompt_tokens = PROMPT_TOKENS_PER_MESSAGE * (
            len(messages) if isinstance(messages, list) else 0
        )
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(words),
            "total_tokens": prompt_tokens + len(words),
        }
        if body.get("stream") is not True:
            await _send_json(
                writer, 200, _completion(str(model), "".join(words).rstrip(), finish_reason, usage)
            )
            return
        await self._stream(writer, mode, str(model), words, finish_reason, usage, body)

    async def _stream(
        self,
        writer: asyncio.StreamWriter,
        mode: str,
        model: str,
        words: list[str],
        finish_reason: str,
        usage: dict[str, int],
        body: dict[str, Any],
    ) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
        )

        async def event(data: Any) -> None:
            payload = f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n".encode()
            writer.write(b"%x\r\n%s\r\n" % (len(payload), payload))
            await writer.drain()

        await event(_chunk(model, {"role": "assistant", "content": ""}))
        for index, word in enumerate(words):
            if mode == "stub-drop" and index == 2:
                writer.transport.abort()  # inside the chunked body: the client sees it cut
                return
            if mode == "stub-error-event" and index == 1:
                await event(
                    {"error": {"message": "The stub overloaded mid-stream", "type": "server_error"}}
                )
                break
            await event(_chunk(model, {"content": word}))
            if mode == "stub-stall-mid":
                await asyncio.sleep(self.stall_seconds)
        if mode not in ("stub-no-finish", "stub-error-event"):
            await event(_chunk(model, {}, finish_reason))
        options = body.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage"):
            await event({**_chunk(model, {}), "choices": [], "usage": usage})
        await event("[DONE]")
        writer.write(b"0\r\n\r\n")
        await writer.drain()


def _error_body(message: str, code: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "stub_error", "param": None, "code": code}}


def _chunk(model: str, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


def _completion(model: str, text: str, finish_reason: str, usage: dict[str, int]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish_reason,
            }
        ],
        "usage": usage,
    }


async def _send_json(
    writer: asyncio.StreamWriter, status: int, body: Any, headers: dict[str, str] | None = None
) -> None:
    payload = json.dumps(body).encode()
    reason = {
        200: "OK",
        400: "Bad Request",
        401: "Unauthorized",
        404: "Not Found",
        429: "Too Many Requests",
    }
    lines = [
        f"HTTP/1.1 {status} {reason.get(status, 'Internal Server Error')}",
        "content-type: application/json",
        f"content-length: {len(payload)}",
        "connection: close",
        *(f"{name}: {value}" for name, value in (headers or {}).items()),
    ]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
    await writer.drain()
