"""seeds/004, chat sessions, against a live server on Redis (the design's store), SQLite and
PostgreSQL: a new session, the streamed continuous conversation, the list of sessions and a
session's history, each with its documented JSON shape, and the web page.

The offline provider answers (no network); the server is open (no key exists), so the
admin-only session list answers too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.seeds import designs
from tests.seeds.conftest import ALL_BACKENDS, SeedServer, assert_shape, serve

pytestmark = pytest.mark.server


@pytest.fixture(scope="module", params=ALL_BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SeedServer]:
    with serve(request, tmp_path_factory) as live:
        yield live


def new_session(server: SeedServer) -> str:
    response = httpx.post(f"{server.url}/new_session", timeout=10)
    assert response.status_code == 200, response.text
    assert set(response.json()) == set(designs.NEW_SESSION_RESPONSE)
    assert_shape(response.json(), designs.NEW_SESSION_RESPONSE)
    session_id: str = response.json()["session_id"]
    return session_id


def chat(server: SeedServer, session_id: str, message: str) -> tuple[httpx.Headers, list[str]]:
    """``POST /chat`` with the documented body; the headers and the chunks as they came."""
    body = {**designs.CHAT_BODY, "session_id": session_id, "message": message}
    with httpx.stream("POST", f"{server.url}/chat", json=body, timeout=30) as response:
        assert response.status_code == 200, response.read()
        chunks = [chunk for chunk in response.iter_text() if chunk]
        return response.headers, chunks


def history(server: SeedServer, session_id: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{server.url}/session/{session_id}/history", timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"history"}
    assert_shape(body, designs.HISTORY_RESPONSE)
    turns: list[dict[str, Any]] = body["history"]
    return turns


def sessions(server: SeedServer) -> list[str]:
    response = httpx.get(f"{server.url}/sessions", timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"sessions"}
    assert_shape(body, designs.SESSIONS_RESPONSE)
    listed: list[str] = body["sessions"]
    return listed


def seen(reply: str) -> int:
    """How many messages the offline model was sent, as its reply says."""
    match = re.search(r"\((\d+) messages? seen", reply)
    assert match, reply
    return int(match.group(1))


def test_new_session(server: SeedServer) -> None:
    session_id = new_session(server)

    assert session_id != new_session(server)
    assert session_id in sessions(server)
    assert history(server, session_id) == []


def test_chat_streams_the_reply_and_keeps_the_history(server: SeedServer) -> None:
    session_id = new_session(server)

    headers, chunks = chat(server, session_id, designs.CHAT_BODY["message"])

    assert headers["content-type"].startswith("text/plain")
    assert "content-length" not in headers  # streamed as it is written
    reply = "".join(chunks)
    assert 'you said "user_message"' in reply
    assert history(server, session_id) == [{"input": "user_message", "output": reply}]


def test_the_conversation_continues_in_its_session(server: SeedServer) -> None:
    session_id = new_session(server)

    _, first = chat(server, session_id, "My name is Ada.")
    _, second = chat(server, session_id, "What is my name?")

    # The second answer was given with the first exchange in its context.
    assert seen("".join(second)) == seen("".join(first)) + 2
    assert history(server, session_id) == [
        {"input": "My name is Ada.", "output": "".join(first)},
        {"input": "What is my name?", "output": "".join(second)},
    ]


def test_sessions_lists_every_session(server: SeedServer) -> None:
    made = [new_session(server), new_session(server)]
    # A chat in a session never made by /new_session starts it.
    _, chunks = chat(server, "chat-made-session", "Hello")
    assert chunks

    listed = sessions(server)

    assert set(made) | {"chat-made-session"} <= set(listed)
    assert len(listed) == len(set(listed))
    assert [turn["input"] for turn in history(server, "chat-made-session")] == ["Hello"]


def test_the_web_page(server: SeedServer) -> None:
    response = httpx.get(f"{server.url}/ui/", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<html" in response.text.lower()
