"""The stub server itself, as other tests will use it: non-streaming answers and routing."""

from __future__ import annotations

import httpx
import openai
import pytest

from .stub_openai import DEFAULT_REPLY, StubOpenAI

pytestmark = pytest.mark.anyio


async def test_non_streaming_completion(stub: StubOpenAI) -> None:
    async with openai.AsyncOpenAI(base_url=stub.base_url, api_key="k", max_retries=0) as client:
        completion = await client.chat.completions.create(
            model="stub-stream", messages=[{"role": "user", "content": "Hi"}], max_tokens=2
        )
    assert completion.choices[0].message.content == "Hello from"
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (10, 2)
    assert stub.requests[-1].model == "stub-stream"
    assert stub.requests[-1].body.get("stream") is None


async def test_reply_can_be_set(stub: StubOpenAI) -> None:
    stub.reply = "Bonjour tout le monde"
    async with openai.AsyncOpenAI(base_url=stub.base_url, api_key="k", max_retries=0) as client:
        completion = await client.chat.completions.create(
            model="stub-stream", messages=[{"role": "user", "content": "Hi"}]
        )
    assert completion.choices[0].message.content == "Bonjour tout le monde"
    stub.reset()
    assert stub.reply == DEFAULT_REPLY
    assert stub.requests == []


async def test_unknown_route_is_404(stub: StubOpenAI) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{stub.base_url}/embeddings", json={"input": "x"})
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "no route POST /v1/embeddings"


def test_a_stub_of_ones_own_starts_and_stops() -> None:
    with StubOpenAI() as stub:
        response = httpx.post(
            f"{stub.base_url}/chat/completions",
            json={"model": "m", "messages": []},
        )
        assert response.json()["choices"][0]["message"]["content"] == DEFAULT_REPLY
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"{stub.base_url}/chat/completions", json={})
