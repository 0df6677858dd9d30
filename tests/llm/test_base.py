"""The contract: messages, the error tree and its problem documents, and import weight."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncGenerator, Sequence

import httpx
import pytest
from fastapi import FastAPI

from threadloom.errors import ThreadloomError
from threadloom.llm import (
    ChatMessage,
    ProviderError,
    ProviderRateLimited,
    ProviderStreamInterrupted,
    ProviderTimeout,
    StreamEvent,
    TextDelta,
    ToolCall,
    complete,
)
from threadloom.server.problems import install_problem_handlers

pytestmark = pytest.mark.anyio


class TestChatMessage:
    def test_images_become_a_tuple(self) -> None:
        message = ChatMessage("user", "Look", images=["https://x.test/a.png"])
        assert message.images == ("https://x.test/a.png",)
        assert hash(message) == hash(ChatMessage("user", "Look", images=("https://x.test/a.png",)))

    def test_unknown_roles_are_refused(self) -> None:
        with pytest.raises(ValueError, match="role must be one of system, user, assistant, tool"):
            ChatMessage("function", "x")  # type: ignore[arg-type]  # a refused role, on purpose

    def test_tool_calls_and_results_have_their_roles(self) -> None:
        call = ToolCall("c1", "f", "{}")
        message = ChatMessage("assistant", "", tool_calls=[call])
        assert message.tool_calls == (call,)
        assert hash(message) == hash(ChatMessage("assistant", "", tool_calls=(call,)))
        with pytest.raises(ValueError, match="only assistant messages make tool calls"):
            ChatMessage("user", "x", tool_calls=[call])
        with pytest.raises(ValueError, match="answers a tool_call_id"):
            ChatMessage("tool", "x")
        with pytest.raises(ValueError, match="answers a tool_call_id"):
            ChatMessage("user", "x", tool_call_id="c1")

    def test_only_user_messages_carry_images(self) -> None:
        with pytest.raises(ValueError, match="only user messages carry images"):
            ChatMessage("assistant", "x", images=["https://x.test/a.png"])


class TestProviderErrors:
    def test_detail_names_provider_status_and_upstream_message(self) -> None:
        error = ProviderRateLimited(
            provider="openai (api.groq.com)",
            what="the upstream is rate limiting requests",
            upstream_status=429,
            upstream_message="Rate limit reached",
            retry_after=2.5,
        )
        assert isinstance(error, ThreadloomError)
        assert error.detail == (
            "openai (api.groq.com): the upstream is rate limiting requests (HTTP 429): "
            "Rate limit reached"
        )
        assert error.headers == {"Retry-After": "3"}
        assert error.to_problem() == {
            "type": "https://threadloom.dev/problems/provider-rate-limited",
            "title": "The language model provider is rate limiting requests",
            "status": 502,
            "detail": error.detail,
        }

    def test_can_be_rebuilt_like_any_threadloom_error(self) -> None:
        error = ProviderTimeout("upstream took too long", errors=[{"loc": []}], status=504)
        assert (error.detail, error.status_code, error.provider) == (
            "upstream took too long",
            504,
            None,
        )

    def test_default_wording_is_the_title(self) -> None:
        error = ProviderTimeout(provider="offline")
        assert error.detail == "offline: the language model provider did not answer in time"
        assert error.status_code == 504
        assert repr(error) == f"ProviderTimeout({error.detail!r})"

    @pytest.mark.parametrize(
        ("error", "status", "slug"),
        [
            (
                ProviderRateLimited(provider="p", upstream_status=429, retry_after=1),
                502,
                "provider-rate-limited",
            ),
            (ProviderTimeout(provider="p"), 504, "provider-timeout"),
            (
                ProviderStreamInterrupted(provider="p", what="the connection broke"),
                502,
                "provider-stream-interrupted",
            ),
        ],
    )
    async def test_the_server_answers_with_a_problem(
        self, error: ProviderError, status: int, slug: str
    ) -> None:
        app = FastAPI()
        install_problem_handlers(app)

        @app.post("/v1/chat")
        async def chat() -> None:
            raise error

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.post("/v1/chat")
        assert response.status_code == status
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["type"] == f"https://threadloom.dev/problems/{slug}"
        assert problem["detail"] == error.detail
        assert problem["instance"] == "/v1/chat"
        assert ("retry-after" in response.headers) is isinstance(error, ProviderRateLimited)


class Truncated:
    """A provider whose stream stops without its final event."""

    name = "truncated"

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        model: str,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> AsyncGenerator[StreamEvent, None]:
        del messages, model, temperature, max_tokens
        yield TextDelta("half a")

    async def aclose(self) -> None:
        pass


async def test_complete_refuses_a_stream_without_final_event() -> None:
    with pytest.raises(ProviderStreamInterrupted, match="truncated: the stream ended without"):
        await complete(Truncated(), [ChatMessage("user", "Hi")], model="m")


@pytest.mark.parametrize(
    ("module", "absent"),
    [
        ("threadloom", ["threadloom.llm", "openai"]),
        ("threadloom.llm", ["openai", "threadloom.llm.openai_compat", "fastapi"]),
    ],
)
def test_import_weight(module: str, absent: list[str]) -> None:
    probe = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = set(json.loads(done.stdout))
    assert module in loaded
    assert [name for name in absent if name in loaded] == []
