"""Tool calls in what a model is sent, on every backend: an assistant's ``tool_calls`` and a
tool's result go as the chat-completions API expects them (checked at a stub of it, through
the official SDK over loopback), ``GET .../context`` shows them, and the token budget never
keeps a result whose call it cut off."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.chat.conftest import new_assistant, new_thread
from tests.llm.stub_openai import StubOpenAI

pytestmark = pytest.mark.anyio

CALL = {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}


async def _append(api: httpx.AsyncClient, thread_id: str, *bodies: dict[str, Any]) -> None:
    url = f"/v1/spaces/default/threads/{thread_id}/messages/batch"
    response = await api.post(url, json={"messages": list(bodies)})
    assert response.status_code == 201, response.text


async def test_a_chat_sends_the_calls_and_their_results(
    api: httpx.AsyncClient, stub: StubOpenAI
) -> None:
    thread_id = await new_thread(api)
    await _append(
        api,
        thread_id,
        {"role": "user", "content": "Weather?", "name": "alice"},
        {"role": "assistant", "content": "", "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_1", "name": "weather", "content": "sunny"},
        {"role": "tool", "content": "a tool message without a call id"},
    )
    assistant = await new_assistant(api, provider="openai", model="stub-stream")
    body = {"content": "And tomorrow?", "assistant": assistant["id"]}
    response = await api.post(f"/v1/spaces/default/threads/{thread_id}/chat", json=body)
    assert response.status_code == 201, response.text
    assert stub.requests[-1].body["messages"] == [
        {"role": "user", "content": "Weather?", "name": "alice"},
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "user", "content": "a tool message without a call id", "name": "tool"},
        {"role": "user", "content": "And tomorrow?"},
    ]


async def test_the_context_shows_them(api: httpx.AsyncClient) -> None:
    thread_id = await new_thread(api)
    await _append(
        api,
        thread_id,
        {"role": "assistant", "content": "Let me look.", "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    )
    response = await api.get(f"/v1/spaces/default/threads/{thread_id}/context")
    assert response.status_code == 200, response.text
    call, result = response.json()["messages"][1:]
    assert (call["role"], call["content"], call["tool_calls"]) == (
        "assistant",
        "Let me look.",
        [CALL],
    )
    assert (result["role"], result["tool_call_id"], result["content"]) == (
        "tool",
        "call_1",
        "sunny",
    )
    assert "tool_calls" not in result
    assert "tool_call_id" not in call


async def test_the_budget_keeps_a_call_and_its_results_together(api: httpx.AsyncClient) -> None:
    thread_id = await new_thread(api)
    calls = [{**CALL, "id": f"call_{n}"} for n in range(3)]
    await _append(
        api,
        thread_id,
        {"role": "user", "content": "old " * 200},
        {"role": "assistant", "content": "", "tool_calls": calls},
        *({"role": "tool", "tool_call_id": c["id"], "content": "r" * 40} for c in calls),
        {"role": "assistant", "content": "All three are sunny."},
    )
    url = f"/v1/spaces/default/threads/{thread_id}/context"
    full = (await api.get(url, params={"max_tokens": 10_000})).json()
    assert [m["role"] for m in full["messages"][1:]] == [
        "user",
        "assistant",
        "tool",
        "tool",
        "tool",
        "assistant",
    ]
    # Every budget that cuts inside the group leaves the whole group out.
    seen = set()
    for budget in range(20, 120, 4):
        shown = (await api.get(url, params={"max_tokens": budget})).json()["messages"][1:]
        roles = tuple(m["role"] for m in shown)
        assert roles in ((), ("assistant",), ("assistant", "tool", "tool", "tool", "assistant"))
        seen.add(roles)
    # The budgets went from below the last answer to above the whole group.
    assert seen == {(), ("assistant",), ("assistant", "tool", "tool", "tool", "assistant")}
