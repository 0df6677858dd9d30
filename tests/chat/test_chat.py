"""POST .../chat in process, on both databases: replies and their metadata, streaming,
provider failures, the token budget, idempotency and the one-reply-at-a-time rule."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi import FastAPI

from tests.chat.conftest import (
    PROBLEMS,
    messages_of,
    new_assistant,
    new_thread,
    parse_sse,
)
from tests.fixtures.app import services_of
from tests.llm.stub_openai import StubOpenAI

pytestmark = pytest.mark.anyio


def chat_url(thread_id: str) -> str:
    return f"/v1/spaces/default/threads/{thread_id}/chat"


async def test_chat_stores_both_messages_with_the_reply_metadata(
    api: httpx.AsyncClient, stub: StubOpenAI
) -> None:
    stub.reset(reply="Paris is the capital.")
    thread_id = await new_thread(api)
    response = await api.post(chat_url(thread_id), json={"content": "Capital of France?"})
    assert response.status_code == 201, response.text
    reply = response.json()
    assert reply["role"] == "assistant"
    assert reply["content"] == "Paris is the capital."
    meta = reply["metadata"]
    assert meta["assistant"] == "default"
    assert meta["provider"] == "openai"
    assert meta["model"] == "stub-stream"
    # The stub counts 10 prompt tokens per message and one completion token per word.
    assert meta["usage"] == {"prompt_tokens": 20, "completion_tokens": 4, "total_tokens": 24}
    assert meta["finish_reason"] == "stop"
    assert meta["incomplete"] is False
    assert isinstance(meta["latency_ms"], int)
    assert meta["latency_ms"] >= 0
    stored = await messages_of(api, thread_id)
    assert [(m["role"], m["content"]) for m in stored] == [
        ("user", "Capital of France?"),
        ("assistant", "Paris is the capital."),
    ]
    assert meta["reply_to"] == stored[0]["id"]
    sent = stub.requests[-1].body
    assert sent["model"] == "stub-stream"
    assert sent["stream"] is True
    assert sent["messages"] == [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Capital of France?"},
    ]


async def test_the_assistant_settings_reach_the_model(
    api: httpx.AsyncClient, stub: StubOpenAI
) -> None:
    assistant = await new_assistant(
        api,
        name="poet",
        provider="openai",
        model="stub-stream",
        system_prompt="Answer in verse.",
        temperature=0.3,
        max_tokens=2,
    )
    thread_id = await new_thread(api)
    body = {"content": "hello", "assistant": assistant["id"]}
    response = await api.post(chat_url(thread_id), json=body)
    assert response.status_code == 201, response.text
    reply = response.json()
    assert reply["metadata"]["assistant"] == assistant["id"]
    assert reply["metadata"]["finish_reason"] == "length"
    assert len(reply["content"].split()) == 2
    sent = stub.requests[-1].body
    assert sent["temperature"] == 0.3
    assert sent["messages"][0] == {"role": "system", "content": "Answer in verse."}


async def test_streaming_sends_start_deltas_and_done(
    api: httpx.AsyncClient, stub: StubOpenAI
) -> None:
    stub.reset(reply="one two three four")
    thread_id = await new_thread(api)
    response = await api.post(chat_url(thread_id), json={"content": "count", "stream": True})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    names = [name for name, _ in events]
    assert names[0] == "start"
    assert names[-1] == "done"
    assert set(names[1:-1]) == {"delta"}
    start = json.loads(events[0][1])
    assert start["user_message"]["content"] == "count"
    text = "".join(json.loads(data)["text"] for name, data in events if name == "delta")
    assert text == "one two three four"
    done = json.loads(events[-1][1])
    assert done["content"] == "one two three four"
    assert done["metadata"]["usage"]["completion_tokens"] == 4
    assert [m["id"] for m in await messages_of(api, thread_id)] == [
        start["user_message"]["id"],
        done["id"],
    ]


@pytest.mark.parametrize(
    ("model", "status", "slug"),
    [
        ("stub-500", 502, "provider-unavailable"),
        ("stub-429", 502, "provider-rate-limited"),
        ("stub-401", 502, "provider-auth-failed"),
        ("stub-400", 502, "provider-rejected-request"),
        ("stub-stall", 504, "provider-timeout"),
    ],
)
async def test_a_failing_provider_keeps_the_user_message_and_stores_no_reply(
    api: httpx.AsyncClient, stub: StubOpenAI, model: str, status: int, slug: str
) -> None:
    assistant = await new_assistant(api, name=model, provider="openai", model=model)
    thread_id = await new_thread(api)
    body = {"content": "hello?", "assistant": assistant["id"]}
    response = await api.post(chat_url(thread_id), json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == PROBLEMS + slug
    assert "Traceback" not in response.text
    assert "sk-test" not in response.text  # the provider's key never reaches a client
    assert [m["role"] for m in await messages_of(api, thread_id)] == ["user"]
    # The thread is free again.
    again = await api.post(chat_url(thread_id), json={"content": "retry"})
    assert again.status_code == 201, again.text
    assert stub.attempts(model) == 1


async def test_a_reply_that_breaks_off_mid_stream_is_an_error_event_and_not_stored(
    api: httpx.AsyncClient,
) -> None:
    assistant = await new_assistant(api, name="dropper", provider="openai", model="stub-drop")
    thread_id = await new_thread(api)
    body = {"content": "hi", "assistant": assistant["id"], "stream": True}
    response = await api.post(chat_url(thread_id), json=body)
    assert response.status_code == 200
    events = parse_sse(response.text)
    assert [name for name, _ in events][0] == "start"
    assert "delta" in [name for name, _ in events]
    assert events[-1][0] == "error"
    problem = json.loads(events[-1][1])
    assert problem["type"] == PROBLEMS + "provider-stream-interrupted"
    assert problem["status"] == 502
    assert [m["role"] for m in await messages_of(api, thread_id)] == ["user"]


async def test_the_offline_provider_answers_without_a_network(api: httpx.AsyncClient) -> None:
    assistant = await new_assistant(api, name="offline", provider="offline")
    thread_id = await new_thread(api)
    body = {"content": "What is 2+2?", "assistant": assistant["id"]}
    response = await api.post(chat_url(thread_id), json=body)
    assert response.status_code == 201, response.text
    reply = response.json()
    assert reply["content"].startswith('offline assistant: you said "What is 2+2?"')
    assert reply["metadata"]["provider"] == "offline"
    assert reply["metadata"]["usage"]["completion_tokens"] > 0


async def test_only_the_tail_that_fits_the_budget_is_sent(
    api: httpx.AsyncClient, app: FastAPI, stub: StubOpenAI
) -> None:
    thread_id = await new_thread(api)
    batch = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"{i:04d} " + "x" * 395}
        for i in range(100)
    ]
    url = f"/v1/spaces/default/threads/{thread_id}/messages/batch"
    for _ in range(5):  # 500 messages of about 100 tokens each
        assert (await api.post(url, json={"messages": batch})).status_code == 201
    assistant = await new_assistant(
        api,
        name="small",
        provider="openai",
        model="stub-stream",
        context_tokens=1000,
        system_prompt="Be brief.",
    )
    body = {"content": "latest question", "assistant": assistant["id"]}
    response = await api.post(chat_url(thread_id), json=body)
    assert response.status_code == 201, response.text
    sent = stub.requests[-1].body["messages"]
    assert sent[0]["role"] == "system"
    assert sent[-1] == {"role": "user", "content": "latest question"}
    assert 3 <= len(sent) <= 11  # about 1000 tokens of 104-token messages
    assert sum(len(m["content"]) for m in sent) < 1000 * 4
    assert sent[-2]["content"].startswith("0099 ")  # an unbroken tail

    context = await api.get(
        f"/v1/spaces/default/threads/{thread_id}/context",
        params={"assistant": assistant["id"]},
    )
    assert context.status_code == 200, context.text
    shown = context.json()
    assert shown["max_tokens"] == 1000
    assert shown["truncated"] is True
    assert shown["tokens"] <= 1000
    # The context now ends with the reply that was stored after the request above.
    assert shown["messages"][-1]["role"] == "assistant"
    assert shown["messages"][0] == {
        "id": None,
        "role": "system",
        "name": None,
        "content": "Be brief.",
        "images": [],
    }
    wider = await api.get(
        f"/v1/spaces/default/threads/{thread_id}/context", params={"max_tokens": 5000}
    )
    assert len(wider.json()["messages"]) > len(shown["messages"])
    assert services_of(app).store.backend in ("sqlite", "postgres", "redis")


async def test_context_of_a_short_thread_is_all_of_it(api: httpx.AsyncClient) -> None:
    thread_id = await new_thread(api)
    url = f"/v1/spaces/default/threads/{thread_id}/messages"
    await api.post(url, json={"role": "user", "content": "hi"})
    await api.post(url, json={"role": "tool", "content": "42"})
    response = await api.get(f"/v1/spaces/default/threads/{thread_id}/context")
    body = response.json()
    assert body["truncated"] is False
    assert [(m["role"], m["name"], m["content"]) for m in body["messages"][1:]] == [
        ("user", None, "hi"),
        ("user", "tool", "42"),
    ]
    missing = await api.get("/v1/spaces/default/threads/nope/context")
    assert missing.status_code == 404
    bad = await api.get(f"/v1/spaces/default/threads/{thread_id}/context?max_tokens=0")
    assert bad.status_code == 422


async def test_chat_with_an_idempotency_key_replays_and_adds_nothing(
    api: httpx.AsyncClient,
) -> None:
    thread_id = await new_thread(api)
    headers = {"Idempotency-Key": "chat-1"}
    first = await api.post(chat_url(thread_id), json={"content": "once"}, headers=headers)
    assert first.status_code == 201
    again = await api.post(chat_url(thread_id), json={"content": "once"}, headers=headers)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    streamed = await api.post(
        chat_url(thread_id), json={"content": "once", "stream": True}, headers=headers
    )
    # A different body (stream) under the same key is a different request.
    assert streamed.status_code == 422
    assert len(await messages_of(api, thread_id)) == 2


async def test_chat_errors_are_problems(api: httpx.AsyncClient) -> None:
    missing = await api.post(chat_url("nope"), json={"content": "hi"})
    assert missing.status_code == 404
    thread_id = await new_thread(api)
    unknown = await api.post(chat_url(thread_id), json={"content": "hi", "assistant": "ghost"})
    assert unknown.status_code == 404
    bad = await api.post(chat_url(thread_id), json={"content": "hi", "stream": "yes"})
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert await messages_of(api, thread_id) == []


async def test_a_chat_image_that_is_no_url_is_refused_before_anything_is_written(
    api: httpx.AsyncClient,
) -> None:
    thread_id = await new_thread(api)
    for stream in (False, True):
        bad = await api.post(
            chat_url(thread_id), json={"content": "hi", "images": ["x"], "stream": stream}
        )
        assert bad.status_code == 422, bad.text
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert "images[0]" in bad.text
    assert await messages_of(api, thread_id) == []
