"""Fixtures of the integration tests: clients whose every request is recorded (so a test can
say how many requests an operation took), a real server for the blocking client, local stores
closed after each test, and a conversation with every kind of LangChain message."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
from fastapi import FastAPI
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from tests.fixtures.servers import LiveServer
from threadloom import AsyncClient, Client, local

BASE_URL = "http://localhost"  # keyless requests are served only on loopback
SPACE = "default"
BIG_IMAGE = "data:image/png;base64," + "iVBORw0KGgo" * 4000  # past the 16 KiB metadata limit


class Requests:
    """What a recording transport has sent."""

    def __init__(self) -> None:
        self.sent: list[httpx.Request] = []

    def lines(self) -> list[str]:
        """``METHOD /path?query`` of each request, in order."""
        return [f"{r.method} {r.url.raw_path.decode()}" for r in self.sent]

    def clear(self) -> None:
        self.sent.clear()


class RecordingAsyncTransport(httpx.AsyncBaseTransport, Requests):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        Requests.__init__(self)
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class RecordingTransport(httpx.BaseTransport, Requests):
    def __init__(self, inner: httpx.BaseTransport) -> None:
        Requests.__init__(self)
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("THREADLOOM_URL", "THREADLOOM_API_KEY", "THREADLOOM_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


# In process: AsyncClient over the ASGI app -------------------------------------------------


@pytest.fixture
def transport(app: FastAPI) -> RecordingAsyncTransport:
    return RecordingAsyncTransport(httpx.ASGITransport(app=app))


@pytest.fixture
async def async_client(transport: RecordingAsyncTransport) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(BASE_URL, transport=transport, max_retries=0) as client:
        yield client


# A real server: Client over loopback ---------------------------------------------------------


@pytest.fixture
def server(database_url: str, live_servers: Callable[..., LiveServer]) -> LiveServer:
    return live_servers(database_url)


@pytest.fixture
def sync_transport() -> RecordingTransport:
    return RecordingTransport(httpx.HTTPTransport())


@pytest.fixture
def client(server: LiveServer, sync_transport: RecordingTransport) -> Iterator[Client]:
    with Client(server.url, transport=sync_transport, max_retries=0) as client:
        yield client


# In process: the local store ----------------------------------------------------------------


@pytest.fixture
def local_stores() -> Iterator[None]:
    """Local stores opened by a test are closed after it (the next test opens its own)."""
    yield
    local.close_all()


# Messages -----------------------------------------------------------------------------------


def conversation() -> list[BaseMessage]:
    """Every kind of message, with names, ids (valid, missing, invalid and repeated as
    threadloom ids), tool calls, additional_kwargs, response_metadata and images."""
    return [
        SystemMessage("You answer briefly.", id="sys-1"),
        HumanMessage(
            "What is the weather in Paris?",
            name="ada",
            id="human-1",
            additional_kwargs={"locale": "fr-FR"},
        ),
        AIMessage(
            "",
            id="run-1",
            tool_calls=[{"name": "weather", "args": {"city": "Paris"}, "id": "call_1"}],
            invalid_tool_calls=[
                {"name": "weather", "args": "{city:", "id": "call_2", "error": "bad JSON"}
            ],
            additional_kwargs={"refusal": None},
            response_metadata={"model_name": "fake-1", "finish_reason": "tool_calls"},
            usage_metadata={"input_tokens": 12, "output_tokens": 7, "total_tokens": 19},
        ),
        ToolMessage(
            "18 °C, sunny",
            tool_call_id="call_1",
            name="weather",
            id="tool-1",
            artifact={"celsius": 18, "sky": ["sunny"]},
        ),
        ToolMessage("no such city", tool_call_id="call_2", status="error"),
        FunctionMessage(content='{"result": 42}', name="calculator", id="fn-1"),
        ChatMessage(content="Objection: it is cloudy.", role="critic", name="bob", id="chat-1"),
        AIMessage("18 °C and sunny.", name="assistant-bot"),
        HumanMessage(
            [
                {"type": "text", "text": "And in "},
                {"type": "text", "text": "this picture?"},
                {"type": "image_url", "image_url": {"url": BIG_IMAGE, "detail": "low"}},
                {"type": "image", "url": "https://example.com/b.png"},
            ],
            id="human-2",
        ),
        HumanMessage("An id that is no threadloom id.", id="lc id with spaces"),
        AIMessageChunk(content="Partial", id="chunk-1"),
        HumanMessage("The same id twice in one call.", id="human-1-again"),
        HumanMessage("The same id twice in one call.", id="human-1-again"),
    ]


STORED_ROLES = [
    "system",
    "user",
    "assistant",
    "tool",
    "tool",
    "function",
    "critic",
    "assistant",
    "user",
    "user",
    "assistant",
    "user",
    "user",
]
"""The threadloom role of each message of ``conversation()``."""

GIVEN_IDS = {0: "sys-1", 1: "human-1", 2: "run-1", 3: "tool-1", 5: "fn-1", 6: "chat-1"}
GIVEN_IDS |= {8: "human-2", 10: "chunk-1", 11: "human-1-again"}
"""The messages of ``conversation()`` whose LangChain id is their threadloom id (the others
have generated ids: none, not valid, or taken)."""


def words(count: int, start: int = 0) -> list[BaseMessage]:
    """``count`` short messages, alternately human and AI, numbered from ``start``."""
    kinds = (HumanMessage, AIMessage)
    return [kinds[n % 2](f"message {n}") for n in range(start, start + count)]
