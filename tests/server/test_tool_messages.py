"""Tool calls in the native API, on every backend: an assistant message's ``tool_calls``
(content may be empty) and a tool message's ``tool_call_id`` and ``name``, as OpenAI's Chat
Completions API writes them, stored and answered by every way a message is made and read;
a message without them answers exactly as before."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.anyio

THREADS = "/v1/spaces/default/threads"
CALLS = [
    {
        "id": "call_weather",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    },
    {"id": "call_time", "type": "function", "function": {"name": "now", "arguments": "{}"}},
]
ASSISTANT = {"role": "assistant", "content": "", "tool_calls": CALLS}
RESULT = {
    "role": "tool",
    "tool_call_id": "call_weather",
    "name": "get_weather",
    "content": '{"temperature": 21}',
}
PLAIN_KEYS = {
    "object",
    "id",
    "thread_id",
    "seq",
    "role",
    "content",
    "images",
    "private",
    "metadata",
    "created_at",
}


def _fields(message: dict[str, Any]) -> dict[str, Any]:
    return {
        k: message[k]
        for k in ("role", "content", "tool_calls", "tool_call_id", "name")
        if k in message
    }


async def _page(api: httpx.AsyncClient, thread: str) -> list[dict[str, Any]]:
    response = await api.get(f"{THREADS}/{thread}/messages", params={"limit": 100})
    assert response.status_code == 200
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def test_a_call_and_its_result_round_trip(api: httpx.AsyncClient) -> None:
    assert (await api.post(THREADS, json={"id": "t"})).status_code == 201
    made = []
    for body in ({"content": "Weather in Paris?"}, ASSISTANT, RESULT):
        response = await api.post(f"{THREADS}/t/messages", json=body)
        assert response.status_code == 201, response.text
        made.append(response.json())
    assert _fields(made[1]) == ASSISTANT
    assert _fields(made[2]) == RESULT
    assert set(made[0]) == PLAIN_KEYS  # a plain message has none of the new fields
    assert await _page(api, "t") == made


async def test_the_type_of_a_call_defaults_to_function(api: httpx.AsyncClient) -> None:
    assert (await api.post(THREADS, json={"id": "t"})).status_code == 201
    call = {"id": "c1", "function": {"name": "f", "arguments": "{}"}}
    body = {"role": "assistant", "tool_calls": [call]}
    response = await api.post(f"{THREADS}/t/messages", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["tool_calls"] == [{**call, "type": "function"}]
    assert response.json()["content"] == ""


async def test_batches_and_a_thread_with_its_first_messages_keep_them(
    api: httpx.AsyncClient,
) -> None:
    first = await api.post(
        f"{THREADS}/messages", json={"thread": {"id": "t"}, "message": ASSISTANT}
    )
    assert first.status_code == 201, first.text
    assert _fields(first.json()["message"]) == ASSISTANT
    batch = await api.post(
        f"{THREADS}/t/messages/batch", json={"messages": [RESULT, {"content": "thanks"}]}
    )
    assert batch.status_code == 201, batch.text
    stored = await _page(api, "t")
    assert [_fields(m) for m in stored] == [
        ASSISTANT,
        RESULT,
        {"role": "user", "content": "thanks"},
    ]
    assert set(stored[2]) == PLAIN_KEYS


async def test_an_idempotent_retry_answers_the_same_fields(api: httpx.AsyncClient) -> None:
    assert (await api.post(THREADS, json={"id": "t"})).status_code == 201
    headers = {"Idempotency-Key": "k-tool-1"}
    once = await api.post(f"{THREADS}/t/messages", json=ASSISTANT, headers=headers)
    again = await api.post(f"{THREADS}/t/messages", json=ASSISTANT, headers=headers)
    assert once.status_code == again.status_code == 201
    assert again.json() == once.json()
    assert len(await _page(api, "t")) == 1


async def test_a_name_is_kept_on_any_role(api: httpx.AsyncClient) -> None:
    assert (await api.post(THREADS, json={"id": "t"})).status_code == 201
    body = {"role": "user", "name": "alice", "content": "hello"}
    response = await api.post(f"{THREADS}/t/messages", json=body)
    assert response.status_code == 201
    assert _fields(response.json()) == body


@pytest.mark.parametrize(
    ("body", "error_type"),
    [
        pytest.param({"role": "user", "tool_calls": CALLS}, "tool_calls_role", id="calls-by-user"),
        pytest.param(
            {"role": "user", "tool_call_id": "c"}, "tool_call_id_role", id="result-by-user"
        ),
        pytest.param(
            {"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f"}}]},
            "missing",
            id="no-arguments",
        ),
        pytest.param(
            {"role": "assistant", "tool_calls": [{"id": "c", "type": "web", "function": {}}]},
            "literal_error",
            id="unknown-type",
        ),
        pytest.param(
            {"role": "assistant", "tool_calls": [{"type": "function", "function": {}}]},
            "missing",
            id="no-id",
        ),
        pytest.param({"role": "tool", "tool_call_id": ""}, "string_too_short", id="empty-call-id"),
        pytest.param({"role": "user", "name": "n" * 257}, "string_too_long", id="long-name"),
        pytest.param(
            {"role": "assistant", "tool_calls": [{**CALLS[0], "extra": 1}]},
            "extra_forbidden",
            id="unknown-field",
        ),
    ],
)
async def test_malformed_tool_fields_are_422_and_write_nothing(
    api: httpx.AsyncClient, body: dict[str, Any], error_type: str
) -> None:
    assert (await api.post(THREADS, json={"id": "t"})).status_code == 201
    response = await api.post(f"{THREADS}/t/messages", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert error_type in [e["type"] for e in response.json()["errors"]]
    assert await _page(api, "t") == []
