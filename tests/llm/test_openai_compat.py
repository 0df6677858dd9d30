"""The OpenAI-compatible provider against a real HTTP server on loopback (the stub): what it
sends, what it streams back, and how every upstream failure becomes a ProviderError."""

from __future__ import annotations

import contextlib
import json
import socket
import time
import traceback
from collections.abc import AsyncIterator

import anyio
import openai
import pytest

from threadloom.llm import (
    ChatMessage,
    LLMProvider,
    ProviderAuthFailed,
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderStreamInterrupted,
    ProviderTimeout,
    ProviderUnavailable,
    StreamDone,
    StreamEvent,
    TextDelta,
    Usage,
    complete,
)
from threadloom.llm.openai_compat import OpenAICompatProvider

from .conftest import API_KEY
from .stub_openai import DEFAULT_REPLY, StubOpenAI

pytestmark = pytest.mark.anyio

HELLO = [ChatMessage("user", "Hi!")]
STUB_WORDS = ["Hello ", "from ", "the ", "stub: ", "one ", "two ", "three."]


async def collect(events: AsyncIterator[StreamEvent]) -> tuple[list[str], StreamDone | None]:
    deltas: list[str] = []
    done = None
    async for event in events:
        if isinstance(event, TextDelta):
            deltas.append(event.text)
        else:
            done = event
    return deltas, done


async def collect_until_error(
    events: AsyncIterator[StreamEvent],
) -> tuple[list[str], ProviderError]:
    """The deltas a stream yields before it raises, and the error."""
    deltas: list[str] = []

    async def consume() -> None:
        async for event in events:
            assert isinstance(event, TextDelta), "no final event after a failure"
            deltas.append(event.text)

    with pytest.raises(ProviderError) as caught:
        await consume()
    return deltas, caught.value


def provider_for(
    stub: StubOpenAI, *, timeout: float = 5.0, retries: int = 0
) -> OpenAICompatProvider:
    return OpenAICompatProvider(
        base_url=stub.base_url, api_key=API_KEY, timeout=timeout, max_retries=retries
    )


class TestStreaming:
    async def test_deltas_arrive_in_order_then_usage(self, provider: OpenAICompatProvider) -> None:
        events = [e async for e in provider.stream(HELLO, model="stub-stream")]
        assert [e.text for e in events[:-1] if isinstance(e, TextDelta)] == STUB_WORDS
        assert events[-1] == StreamDone(Usage(10, 7, 17), "stop", "stub-stream")
        assert sum(isinstance(e, StreamDone) for e in events) == 1

    async def test_complete_collects_the_stream(self, provider: OpenAICompatProvider) -> None:
        reply = await complete(provider, HELLO * 3, model="stub-stream")
        assert reply.text == DEFAULT_REPLY
        assert reply.usage == Usage(prompt_tokens=30, completion_tokens=7, total_tokens=37)
        assert reply.finish_reason == "stop"

    async def test_max_tokens_stops_with_finish_reason_length(
        self, provider: OpenAICompatProvider, stub: StubOpenAI
    ) -> None:
        deltas, done = await collect(provider.stream(HELLO, model="stub-stream", max_tokens=3))
        assert deltas == STUB_WORDS[:3]
        assert done == StreamDone(Usage(10, 3, 13), "length", "stub-stream")
        assert stub.requests[-1].body["max_tokens"] == 3

    async def test_max_completion_tokens_can_be_sent_instead(self, stub: StubOpenAI) -> None:
        async with OpenAICompatProvider(
            base_url=stub.base_url, api_key=API_KEY, max_tokens_param="max_completion_tokens"
        ) as provider:
            reply = await complete(provider, HELLO, model="stub-stream", max_tokens=2)
        assert reply.finish_reason == "length"
        body = stub.requests[-1].body
        assert body["max_completion_tokens"] == 2
        assert "max_tokens" not in body

    async def test_is_an_llm_provider(self, provider: OpenAICompatProvider) -> None:
        assert isinstance(provider, LLMProvider)
        assert provider.name.startswith("openai (127.0.0.1:")


class TestRequest:
    async def test_sends_messages_images_and_options(
        self, provider: OpenAICompatProvider, stub: StubOpenAI
    ) -> None:
        messages = [
            ChatMessage("system", "Be brief."),
            ChatMessage(
                "user",
                "What is in these?",
                name="ada",
                images=["https://x.test/a.png", "data:image/png;base64,iVBORw0KGgo="],
            ),
            ChatMessage("assistant", "A cat and a dot."),
            ChatMessage("user", "", images=["https://x.test/b.png"]),
            ChatMessage("user", "Thanks"),
        ]
        reply = await complete(
            provider, messages, model="stub-echo", temperature=0.2, max_tokens=500
        )
        received = json.loads(reply.text)
        assert received["messages"] == [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "name": "ada",
                "content": [
                    {"type": "text", "text": "What is in these?"},
                    {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}},
                    {
                        "type": "image_url",
                        "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="},
                    },
                ],
            },
            {"role": "assistant", "content": "A cat and a dot."},
            {
                "role": "user",
                "content": [{"type": "image_url", "image_url": {"url": "https://x.test/b.png"}}],
            },
            {"role": "user", "content": "Thanks"},
        ]
        assert received["model"] == "stub-echo"
        assert received["temperature"] == 0.2
        assert received["max_tokens"] == 500
        assert received["stream"] is True
        assert received["stream_options"] == {"include_usage": True}
        assert stub.requests[-1].body == received
        assert stub.requests[-1].path == "/v1/chat/completions"
        assert stub.requests[-1].headers["authorization"] == f"Bearer {API_KEY}"

    async def test_unset_options_are_left_out(
        self, provider: OpenAICompatProvider, stub: StubOpenAI
    ) -> None:
        await complete(provider, HELLO, model="stub-stream")
        body = stub.requests[-1].body
        assert "temperature" not in body
        assert "max_tokens" not in body

    async def test_servers_without_keys_get_a_placeholder(self, stub: StubOpenAI) -> None:
        async with OpenAICompatProvider(base_url=stub.base_url) as provider:
            assert (await complete(provider, HELLO, model="stub-stream")).text == DEFAULT_REPLY
        assert stub.requests[-1].headers["authorization"] == "Bearer no-key"

    async def test_mode_can_come_from_a_header(self, stub: StubOpenAI) -> None:
        async with OpenAICompatProvider(
            base_url=stub.base_url, default_headers={"X-Stub-Mode": "stub-400"}
        ) as provider:
            with pytest.raises(ProviderRejected):
                await complete(provider, HELLO, model="gpt-4o-mini")


class TestUpstreamErrors:
    async def test_429_after_the_sdk_retries(self, stub: StubOpenAI) -> None:
        async with provider_for(stub, retries=2) as provider:
            with pytest.raises(ProviderRateLimited) as caught:
                await complete(provider, HELLO, model="stub-429")
        error = caught.value
        assert stub.attempts("stub-429") == 3  # one try and two retries
        assert error.upstream_status == 429
        assert error.upstream_message == "Rate limit reached for stub-429 (stub): slow down"
        assert error.status_code == 502
        assert error.retry_after == pytest.approx(0.01)
        assert error.headers == {"Retry-After": "1"}
        assert isinstance(error.__cause__, openai.RateLimitError)  # for the logs
        assert error.detail == (
            f"{provider.name}: the upstream is rate limiting requests (HTTP 429): "
            "Rate limit reached for stub-429 (stub): slow down"
        )

    async def test_500_after_the_sdk_retries(self, stub: StubOpenAI) -> None:
        async with provider_for(stub, retries=1) as provider:
            deltas, error = await collect_until_error(provider.stream(HELLO, model="stub-500"))
        assert deltas == []
        assert type(error) is ProviderUnavailable
        assert stub.attempts("stub-500") == 2
        assert error.upstream_status == 500
        assert error.status_code == 502
        assert "(HTTP 500): The stub failed while serving stub-500" in error.detail
        assert error.to_problem()["type"].endswith("/provider-unavailable")

    async def test_400_is_rejected_and_not_retried(self, stub: StubOpenAI) -> None:
        async with provider_for(stub, retries=2) as provider:
            with pytest.raises(ProviderRejected) as caught:
                await complete(provider, HELLO, model="stub-400")
        assert stub.attempts("stub-400") == 1
        assert caught.value.upstream_status == 400
        assert "does not exist" in caught.value.detail

    async def test_401_never_shows_the_key(self, stub: StubOpenAI) -> None:
        async with provider_for(stub) as provider:
            with pytest.raises(ProviderAuthFailed) as caught:
                await complete(provider, HELLO, model="stub-401")
            assert API_KEY not in repr(provider)
        error = caught.value
        assert error.upstream_message == "Incorrect API key provided: [redacted]."
        for text in (str(error), repr(error), json.dumps(error.to_problem())):
            assert API_KEY not in text
        # The SDK's exception quotes the key, so it is not chained: logs cannot show it.
        assert error.__cause__ is None
        assert API_KEY not in "".join(traceback.format_exception(error))

    async def test_stall_times_out_after_retries(self, stub: StubOpenAI) -> None:
        started = time.monotonic()
        async with provider_for(stub, timeout=0.3, retries=1) as provider:
            with pytest.raises(ProviderTimeout) as caught:
                await complete(provider, HELLO, model="stub-stall")
        assert time.monotonic() - started < 10  # the stub stalls for 30 s
        assert stub.attempts("stub-stall") == 2
        assert caught.value.status_code == 504
        assert caught.value.to_problem()["type"].endswith("/provider-timeout")
        assert "within 0.3 s" in caught.value.detail

    async def test_stall_mid_stream_times_out_without_retry(self, stub: StubOpenAI) -> None:
        async with provider_for(stub, timeout=0.3, retries=2) as provider:
            deltas, error = await collect_until_error(
                provider.stream(HELLO, model="stub-stall-mid")
            )
        assert deltas == ["Hello "]
        assert isinstance(error, ProviderTimeout)
        assert "after 1 deltas" in error.detail
        assert stub.attempts("stub-stall-mid") == 1

    async def test_dropped_connection_mid_stream(self, stub: StubOpenAI) -> None:
        async with provider_for(stub, retries=2) as provider:
            deltas, error = await collect_until_error(provider.stream(HELLO, model="stub-drop"))
        assert deltas == STUB_WORDS[:2]
        assert isinstance(error, ProviderStreamInterrupted)
        assert isinstance(error, ProviderUnavailable)
        assert error.status_code == 502
        assert "the connection broke after 2 deltas of the reply" in error.detail
        assert stub.attempts("stub-drop") == 1  # text was streamed: nothing is retried

    async def test_error_event_mid_stream(self, provider: OpenAICompatProvider) -> None:
        deltas, error = await collect_until_error(provider.stream(HELLO, model="stub-error-event"))
        assert deltas == ["Hello "]
        assert isinstance(error, ProviderStreamInterrupted)
        assert error.upstream_message == "The stub overloaded mid-stream"

    async def test_stream_without_finish_reason(self, provider: OpenAICompatProvider) -> None:
        deltas, error = await collect_until_error(provider.stream(HELLO, model="stub-no-finish"))
        assert deltas == STUB_WORDS
        assert isinstance(error, ProviderStreamInterrupted)
        assert "without a finish reason" in error.detail

    async def test_hangup_before_answering_is_retried(self, stub: StubOpenAI) -> None:
        async with provider_for(stub, retries=1) as provider:
            with pytest.raises(ProviderUnavailable) as caught:
                await complete(provider, HELLO, model="stub-hangup")
        assert type(caught.value) is ProviderUnavailable
        assert stub.attempts("stub-hangup") == 2
        assert f"could not reach {stub.base_url}" in caught.value.detail

    async def test_nothing_listening(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        base_url = f"http://127.0.0.1:{port}/v1"
        async with OpenAICompatProvider(base_url=base_url, max_retries=0) as provider:
            with pytest.raises(ProviderUnavailable) as caught:
                await complete(provider, HELLO, model="any")
        assert caught.value.detail.startswith(f"openai (127.0.0.1:{port}): could not reach")
        assert caught.value.upstream_status is None


class TestConsumer:
    async def test_cancelled_consumer_releases_the_connection(self, stub: StubOpenAI) -> None:
        deltas: list[str] = []
        async with provider_for(stub, timeout=30) as provider:
            with anyio.move_on_after(0.3) as scope:
                async for event in provider.stream(HELLO, model="stub-stall-mid"):
                    assert isinstance(event, TextDelta)
                    deltas.append(event.text)
            assert scope.cancelled_caught
            # The provider is still usable afterwards.
            assert (await complete(provider, HELLO, model="stub-stream")).text == DEFAULT_REPLY
        assert deltas == ["Hello "]

    async def test_leaving_early_inside_aclosing(self, provider: OpenAICompatProvider) -> None:
        async with contextlib.aclosing(provider.stream(HELLO, model="stub-stream")) as events:
            async for event in events:
                assert event == TextDelta("Hello ")
                break
        assert (await complete(provider, HELLO, model="stub-stream")).finish_reason == "stop"
