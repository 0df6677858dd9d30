"""The original session routes in process, on both databases: their exact JSON shapes."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi import FastAPI

from tests.chat.conftest import PROBLEMS, parse_sse
from tests.fixtures.app import services_of
from tests.llm.stub_openai import StubOpenAI

pytestmark = pytest.mark.anyio


async def test_welcome(api: httpx.AsyncClient) -> None:
    response = await api.get("/")
    assert response.status_code == 200
    assert response.json()["message"] == "Welcome to the OpenAI Threaded Assistant API!"


async def test_ask_creates_the_session_on_first_use_and_continues_it(
    api: httpx.AsyncClient, stub: StubOpenAI
) -> None:
    stub.reset(reply="Hi there.")
    first = await api.post("/ask", json={"session_id": "s1", "user_input": "Hello"})
    assert first.status_code == 200, first.text
    assert first.json() == {"session_id": "s1", "response": "Hi there."}
    second = await api.post("/ask", json={"session_id": "s1", "user_input": "Again"})
    assert second.json() == {"session_id": "s1", "response": "Hi there."}
    # The second request carried the whole conversation so far.
    assert [m["content"] for m in stub.requests[-1].body["messages"][1:]] == [
        "Hello",
        "Hi there.",
        "Again",
    ]
    history = await api.get("/session/s1/history")
    assert history.json() == {
        "history": [
            {"input": "Hello", "output": "Hi there."},
            {"input": "Again", "output": "Hi there."},
        ]
    }


async def test_ask_without_a_session_id_starts_one(api: httpx.AsyncClient) -> None:
    response = await api.post("/ask", json={"user_input": "Hello"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"session_id", "response"}
    assert body["session_id"] in (await api.get("/sessions")).json()["sessions"]


async def test_new_session_and_sessions(api: httpx.AsyncClient) -> None:
    created = await api.post("/new_session")
    assert created.status_code == 200
    assert set(created.json()) == {"session_id"}
    session_id = created.json()["session_id"]
    await api.post("/ask", json={"session_id": "later", "user_input": "hi"})
    listed = await api.get("/sessions")
    assert listed.status_code == 200
    assert listed.json() == {"sessions": ["later", session_id]}
    empty = await api.get(f"/session/{session_id}/history")
    assert empty.json() == {"history": []}
    assert (await api.get("/session/nope/history")).status_code == 404


async def test_chat_streams_plain_text_or_events(api: httpx.AsyncClient, stub: StubOpenAI) -> None:
    stub.reset(reply="alpha beta gamma")
    plain = await api.post("/chat", json={"session_id": "c1", "message": "go"})
    assert plain.status_code == 200
    assert plain.headers["content-type"].startswith("text/plain")
    assert plain.text == "alpha beta gamma"
    events = await api.post(
        "/chat",
        json={"session_id": "c1", "message": "again"},
        headers={"Accept": "text/event-stream"},
    )
    assert events.headers["content-type"].startswith("text/event-stream")
    parsed = parse_sse(events.text)
    assert parsed[-1][0] == "done"
    assert json.loads(parsed[-1][1])["content"] == "alpha beta gamma"
    history = (await api.get("/session/c1/history")).json()["history"]
    assert [turn["input"] for turn in history] == ["go", "again"]


async def test_history_pairs_replies_with_their_messages(api: httpx.AsyncClient) -> None:
    await api.post("/new_session")
    await api.post("/v1/spaces/default/threads", json={"id": "h1"})
    url = "/v1/spaces/default/threads/h1/messages/batch"
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "q2"},
        {"role": "user", "content": "q3"},
        {"role": "assistant", "content": "a3"},
    ]
    assert (await api.post(url, json={"messages": messages})).status_code == 201
    history = (await api.get("/session/h1/history")).json()
    assert history == {
        "history": [
            {"input": "q1", "output": "a1"},
            {"input": "q2", "output": None},
            {"input": "q3", "output": "a3"},
        ]
    }
    newest = (await api.get("/session/h1/history", params={"limit": 2})).json()
    assert newest["history"] == history["history"][1:]


async def test_sessions_needs_an_admin_key_once_keys_exist(
    api: httpx.AsyncClient, app: FastAPI
) -> None:
    keys = services_of(app).keys
    admin, _ = await keys.create("admin", None)
    writer, _ = await keys.create("writer", "default")
    assert (await api.get("/sessions")).status_code == 401
    refused = await api.get("/sessions", headers={"X-API-Key": writer})
    assert refused.status_code == 403
    assert refused.json()["type"] == PROBLEMS + "forbidden"
    allowed = await api.get("/sessions", headers={"X-API-Key": admin})
    assert allowed.status_code == 200
    asked = await api.post(
        "/ask", json={"session_id": "w1", "user_input": "hi"}, headers={"X-API-Key": writer}
    )
    assert asked.status_code == 200
    assert "w1" in (await api.get("/sessions", headers={"X-API-Key": admin})).json()["sessions"]


async def test_session_errors_are_problems(api: httpx.AsyncClient) -> None:
    bad = await api.post("/ask", json={"session_id": "no spaces allowed", "user_input": "x"})
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    missing = await api.post("/ask", json={"session_id": "s"})
    assert missing.status_code == 422
