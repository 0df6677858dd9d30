"""Chat over real HTTP against ``threadloom serve`` processes: a client that disconnects
mid-stream, one reply at a time per thread across two processes, the session routes with
curl, and CORS."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.chat.conftest import PROBLEMS, llm_env
from tests.fixtures.servers import LiveServer
from tests.llm.stub_openai import DEFAULT_REPLY, StubOpenAI

pytestmark = pytest.mark.server

StartServer = Callable[..., LiveServer]


def _setup(server: LiveServer, model: str) -> tuple[str, str]:
    """An assistant using ``model`` and a new thread: their ids."""
    assistant = httpx.post(
        server.url + "/v1/spaces/default/assistants",
        json={"name": model, "provider": "openai", "model": model},
    )
    assert assistant.status_code == 201, assistant.text
    thread = httpx.post(server.url + "/v1/spaces/default/threads", json={})
    assert thread.status_code == 201, thread.text
    return assistant.json()["id"], thread.json()["id"]


def _messages(server: LiveServer, thread_id: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{server.url}/v1/spaces/default/threads/{thread_id}/messages", params={"limit": 100}
    )
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def _wait_for(check: Callable[[], Any], seconds: float = 15.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def _read_until_delta(lines: Any) -> str:
    """Read an event stream until its first delta; that delta's text."""
    event = None
    for line in lines:
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:") and event == "delta":
            return str(json.loads(line[5:])["text"])
    raise AssertionError("the stream ended before any delta")


def test_a_client_that_disconnects_mid_stream_leaves_an_incomplete_reply(
    live_servers: StartServer, database_url: str, stub: StubOpenAI
) -> None:
    server = live_servers(database_url, env=llm_env(stub))
    assistant_id, thread_id = _setup(server, "stub-stall-mid")
    url = f"{server.url}/v1/spaces/default/threads/{thread_id}/chat"
    body = {"content": "tell me a story", "assistant": assistant_id, "stream": True}
    with httpx.Client(timeout=10) as client, client.stream("POST", url, json=body) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        first = _read_until_delta(lines)
        time.sleep(0.2)
        assert not any(m["role"] == "assistant" for m in _messages(server, thread_id))
    # The connection is closed: the server stops the model and keeps what it said.
    assert first == DEFAULT_REPLY.split()[0] + " "

    def reply() -> dict[str, Any] | None:
        found = [m for m in _messages(server, thread_id) if m["role"] == "assistant"]
        return found[0] if found else None

    stored = _wait_for(reply)
    assert stored["content"] == first
    assert stored["metadata"]["incomplete"] is True
    assert stored["metadata"]["incomplete_reason"] == "client_disconnected"
    assert stored["metadata"]["finish_reason"] is None
    # The thread is free for the next reply at once.
    again = httpx.post(url, json={"content": "and now?"}, timeout=10)
    assert again.status_code == 201, again.text
    assert again.json()["metadata"]["incomplete"] is False


def test_one_reply_at_a_time_per_thread_across_processes(
    live_servers: StartServer, database_url: str, stub: StubOpenAI
) -> None:
    first_server = live_servers(database_url, env=llm_env(stub))
    second_server = live_servers(database_url, env=llm_env(stub))
    assistant_id, thread_id = _setup(first_server, "stub-stall-mid")
    path = f"/v1/spaces/default/threads/{thread_id}/chat"
    body = {"content": "slow one", "assistant": assistant_id, "stream": True}
    with (
        httpx.Client(timeout=10) as client,
        client.stream("POST", first_server.url + path, json=body) as response,
    ):
        assert response.status_code == 200
        lines = response.iter_lines()  # kept: dropping it would close the connection
        _read_until_delta(lines)
        for server in (first_server, second_server):
            busy = httpx.post(server.url + path, json={"content": "me too"}, timeout=10)
            assert busy.status_code == 409, busy.text
            assert busy.json()["type"] == PROBLEMS + "thread-busy"
            assert 1 <= int(busy.headers["retry-after"]) <= 5
    # The refused chats stored nothing: one user message and the partial reply.
    stored = _wait_for(lambda: len(_messages(first_server, thread_id)) == 2 or None)
    assert stored is True
    roles = [m["role"] for m in _messages(first_server, thread_id)]
    assert roles == ["user", "assistant"]


def test_the_original_session_routes_with_curl(
    live_servers: StartServer, sqlite_url: str, stub: StubOpenAI
) -> None:
    stub.reset(reply="I am fine, thank you.")
    server = live_servers(sqlite_url, env=llm_env(stub))
    welcome = httpx.get(server.url + "/")
    assert welcome.status_code == 200
    assert welcome.json()["message"] == "Welcome to the OpenAI Threaded Assistant API!"
    # Exactly as the original design shows it.
    done = subprocess.run(
        [
            "curl",
            "-s",
            "-X",
            "POST",
            f"{server.url}/ask",
            "-H",
            "Content-Type: application/json",
            "-d",
            '{"session_id": "test_session", "user_input": "Hello, how are you?"}',
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert json.loads(done.stdout) == {
        "session_id": "test_session",
        "response": "I am fine, thank you.",
    }
    streamed = subprocess.run(
        [
            "curl",
            "-s",
            "-N",
            "-X",
            "POST",
            f"{server.url}/chat",
            "-H",
            "Content-Type: application/json",
            "-d",
            '{"session_id": "test_session", "message": "And you?"}',
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert streamed.stdout == "I am fine, thank you."
    history = httpx.get(server.url + "/session/test_session/history").json()
    assert history == {
        "history": [
            {"input": "Hello, how are you?", "output": "I am fine, thank you."},
            {"input": "And you?", "output": "I am fine, thank you."},
        ]
    }
    assert "test_session" in httpx.get(server.url + "/sessions").json()["sessions"]


def test_cors_allows_only_the_configured_origins(
    live_servers: StartServer, sqlite_url: str
) -> None:
    server = live_servers(
        sqlite_url, env={"THREADLOOM_CORS_ORIGINS": "https://app.example, https://b.example"}
    )
    preflight = httpx.options(
        server.url + "/v1/spaces/default/threads",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-api-key, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    assert preflight.headers["access-control-allow-credentials"] == "true"
    simple = httpx.get(server.url + "/healthz", headers={"Origin": "https://b.example"})
    assert simple.headers["access-control-allow-origin"] == "https://b.example"
    other = httpx.get(server.url + "/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    refused = httpx.options(
        server.url + "/v1/spaces/default/threads",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert refused.status_code == 400


def test_cors_wildcard_never_allows_credentials(live_servers: StartServer, sqlite_url: str) -> None:
    server = live_servers(sqlite_url, env={"THREADLOOM_CORS_ORIGINS": "*"})
    response = httpx.get(server.url + "/healthz", headers={"Origin": "https://any.example"})
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers


def test_no_cors_by_default(live_servers: StartServer, sqlite_url: str) -> None:
    server = live_servers(sqlite_url)
    response = httpx.get(server.url + "/healthz", headers={"Origin": "https://app.example"})
    assert "access-control-allow-origin" not in response.headers
