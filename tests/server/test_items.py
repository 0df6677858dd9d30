"""Provider items on native messages, on every backend: any item of OpenAI's
Responses/Conversations union comes back equal as JSON (with the message's id as its id),
the message's role, text, images and tool fields come from it, and the chat context sends
the items a model reads and leaves the others out."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.anyio

THREADS = "/v1/spaces/default/threads"
PNG = "data:image/png;base64,iVBORw0KGgo="
ITEMS: list[dict[str, Any]] = [
    {
        "type": "message",
        "role": "user",
        "content": [
            {"type": "input_text", "text": "What is in "},
            {"type": "input_text", "text": "this picture?"},
            {"type": "input_image", "image_url": PNG, "detail": "low"},
            {"type": "input_file", "file_id": "file-1"},
        ],
    },
    {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "Look at it."}],
        "encrypted_content": "gAAAA" + "x" * 200,
    },
    {
        "type": "function_call",
        "id": "fc_1",
        "call_id": "call_1",
        "name": "describe",
        "arguments": '{"detail": "high"}',
        "status": "completed",
    },
    {"type": "function_call_output", "call_id": "call_1", "output": "a cat"},
    {
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [
            {"type": "output_text", "text": "A cat.", "annotations": [], "logprobs": []},
            {"type": "refusal", "refusal": " No more."},
        ],
    },
    {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"q": "cats"}},
    {"type": "a_type_of_2030", "payload": {"nested": [1, 2.5, None, True]}},
]


async def _post_items(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    assert (await api.post(THREADS, json={"id": "t"})).status_code == 201
    body = {"messages": [{"item": item} for item in ITEMS]}
    response = await api.post(f"{THREADS}/t/messages/batch", json=body)
    assert response.status_code == 201, response.text
    made: list[dict[str, Any]] = response.json()["data"]
    return made


async def test_every_item_comes_back_equal_with_its_id(api: httpx.AsyncClient) -> None:
    made = await _post_items(api)
    page = (await api.get(f"{THREADS}/t/messages", params={"limit": 100})).json()["data"]
    assert page == made
    for given, stored in zip(ITEMS, page, strict=True):
        assert stored["item"] == {**given, "id": stored["id"]}
        if "id" in given:  # the client's id is the message's
            assert stored["id"] == given["id"]
    one = (await api.get(f"{THREADS}/t/messages/fc_1")).json()
    assert one["item"] == ITEMS[2]


async def test_the_message_fields_come_from_the_item(api: httpx.AsyncClient) -> None:
    made = await _post_items(api)
    fields = [
        (m["role"], m["content"], m["images"], m.get("tool_calls"), m.get("tool_call_id"))
        for m in made
    ]
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "describe", "arguments": '{"detail": "high"}'},
    }
    assert fields == [
        ("user", "What is in this picture?", [PNG], None, None),
        ("reasoning", "", [], None, None),
        ("assistant", "", [], [call], None),
        ("tool", "a cat", [], None, "call_1"),
        ("assistant", "A cat. No more.", [], None, None),
        ("web_search_call", "", [], None, None),
        ("a_type_of_2030", "", [], None, None),
    ]


async def test_the_context_sends_what_a_model_reads(api: httpx.AsyncClient) -> None:
    await _post_items(api)
    shown = (await api.get(f"{THREADS}/t/context")).json()["messages"][1:]
    assert [(m["role"], m["content"]) for m in shown] == [
        ("user", "What is in this picture?"),
        ("assistant", ""),
        ("tool", "a cat"),
        ("assistant", "A cat. No more."),
    ]
    assert shown[1]["tool_calls"][0]["id"] == "call_1"


@pytest.mark.parametrize(
    ("body", "error_type"),
    [
        pytest.param({"item": "text"}, "item_invalid", id="not-an-object"),
        pytest.param({"item": {"role": "user"}}, "item_invalid", id="no-type"),
        pytest.param({"item": {"type": "x" * 65}}, "item_invalid", id="long-type"),
        pytest.param({"item": {"type": "message", "content": "hi"}}, "item_invalid", id="no-role"),
        pytest.param(
            {"item": {"type": "message", "role": "user", "content": 5}},
            "item_invalid",
            id="bad-content",
        ),
        pytest.param(
            {"item": {"type": "function_call", "name": "f", "arguments": "{}"}},
            "item_invalid",
            id="call-without-call-id",
        ),
        pytest.param(
            {"item": {"type": "function_call_output", "call_id": "c", "output": 5}},
            "item_invalid",
            id="bad-output",
        ),
        pytest.param(
            {"role": "system", "item": {"type": "message", "role": "user", "content": "x"}},
            "item_fields_differ",
            id="another-role",
        ),
        pytest.param(
            {"id": "a", "item": {"type": "reasoning", "id": "b"}}, "item_id", id="two-ids"
        ),
        pytest.param(
            {"item": {"type": "reasoning", "id": "not an id!"}},
            "string_pattern_mismatch",
            id="bad-id",
        ),
        pytest.param(
            {"item": {"type": "message", "role": "user", "content": "\u0000"}},
            "nul_character",
            id="nul",
        ),
    ],
)
async def test_malformed_items_are_422_and_write_nothing(
    api: httpx.AsyncClient, body: dict[str, Any], error_type: str
) -> None:
    assert (await api.post(THREADS, json={"id": "t"})).status_code == 201
    response = await api.post(f"{THREADS}/t/messages", json=body)
    assert response.status_code == 422, response.text
    assert error_type in [e["type"] for e in response.json()["errors"]], response.text
    assert (await api.get(f"{THREADS}/t/messages")).json()["data"] == []


async def test_given_fields_that_agree_with_the_item_are_accepted(api: httpx.AsyncClient) -> None:
    """As an export writes an item message: its derived fields beside the item."""
    assert (await api.post(THREADS, json={"id": "t"})).status_code == 201
    item = {"type": "function_call_output", "call_id": "c1", "output": "done"}
    body = {"role": "tool", "content": "done", "tool_call_id": "c1", "item": item}
    response = await api.post(f"{THREADS}/t/messages", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["item"] == {**item, "id": response.json()["id"]}
