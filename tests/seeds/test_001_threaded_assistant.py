"""seeds/001, the threaded assistant, against a live server on SQLite and PostgreSQL: its
welcome, its ``/ask`` curl run as written, the assistants Bob and Private-Bob (made through
the API, answering through the offline provider) and its CORS configuration, checked with
preflights over real HTTP.

The server runs with ``THREADLOOM_CORS_ORIGINS=*`` and ``THREADLOOM_CORS_ALLOW_CREDENTIALS=true``,
threadloom's way to allow any origin with credentials, as the design does
(a server without it sends no CORS headers). Nothing else is configured, so it is open
(no key exists) and the caller is an admin.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.seeds import designs
from tests.seeds.conftest import SQL_BACKENDS, SeedServer, assert_shape, run_curl, serve

pytestmark = pytest.mark.server

ORIGIN = "https://chat.example.org"
BOB = {"id": "default", "name": "Bob"}
PRIVATE_BOB = {
    "id": "private",
    "name": "Private-Bob",
    "private": True,
    "unlock_phrase": designs.PRIVATE_BOB_PASSWORD,
}


@pytest.fixture(scope="module", params=SQL_BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SeedServer]:
    with serve(
        request,
        tmp_path_factory,
        env={"THREADLOOM_CORS_ORIGINS": "*", "THREADLOOM_CORS_ALLOW_CREDENTIALS": "true"},
    ) as live:
        # Bob answers whatever asks for no assistant: he is the space's "default".
        created = httpx.post(f"{live.url}/v1/spaces/default/assistants", json=BOB, timeout=10)
        assert created.status_code == 201, created.text
        yield live


def session_messages(server: SeedServer, session_id: str) -> list[dict[str, Any]]:
    """The messages of a session's thread, oldest first."""
    response = httpx.get(
        f"{server.url}/v1/spaces/default/threads/{session_id}/messages",
        params={"limit": 100},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    messages: list[dict[str, Any]] = response.json()["data"]
    return messages


def ask(server: SeedServer, session_id: str, user_input: str) -> dict[str, Any]:
    """The design's /ask curl with another session and input."""
    command = designs.ASK_CURL.replace('"12345"', f'"{session_id}"').replace(
        "Hello, how are you?", user_input
    )
    answer = run_curl(command, {designs.ASSISTANT_HOST: server.url})
    assert answer.status == 200, answer.body
    body: dict[str, Any] = answer.json()
    assert set(body) == set(designs.ASK_RESPONSE)
    assert_shape(body, designs.ASK_RESPONSE)
    assert body["session_id"] == session_id
    return body


def test_welcome(server: SeedServer) -> None:
    response = httpx.get(f"{server.url}/", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert_shape(response.json(), designs.WELCOME_RESPONSE)
    assert response.json()["message"] == designs.WELCOME_RESPONSE["message"]


def test_ask_as_written_is_answered_by_bob(server: SeedServer) -> None:
    answer = run_curl(designs.ASK_CURL, {designs.ASSISTANT_HOST: server.url})

    assert answer.status == 200, answer.body
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert set(body) == {"session_id", "response"}
    assert_shape(body, designs.ASK_RESPONSE)
    assert body["session_id"] == "12345"
    assert 'you said "Hello, how are you?"' in body["response"]  # the offline model's reply

    user, reply = session_messages(server, "12345")
    assert (user["role"], user["content"]) == ("user", "Hello, how are you?")
    assert (reply["role"], reply["content"]) == ("assistant", body["response"])
    assert reply["metadata"]["assistant"] == "default"
    assert reply["metadata"]["reply_to"] == user["id"]
    bob = httpx.get(f"{server.url}/v1/spaces/default/assistants/default", timeout=10)
    assert bob.json()["name"] == "Bob"

    # The session keeps its conversation: the same request again continues it.
    again = run_curl(designs.ASK_CURL, {designs.ASSISTANT_HOST: server.url})
    assert again.status == 200, again.body
    assert again.json()["session_id"] == "12345"
    messages = session_messages(server, "12345")
    assert [m["role"] for m in messages] == ["user", "assistant"] * 2
    assert messages[-1]["content"] == again.json()["response"]
    assert messages[-1]["metadata"]["assistant"] == "default"


def test_ask_with_the_password_is_answered_by_private_bob(server: SeedServer) -> None:
    created = httpx.post(f"{server.url}/v1/spaces/default/assistants", json=PRIVATE_BOB, timeout=10)
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "Private-Bob"
    assert created.json()["private"] is True

    password = designs.PRIVATE_BOB_PASSWORD
    unlocked = ask(server, "67890", f"{password} Hello, how are you?")
    assert password not in unlocked["response"]
    user, reply = session_messages(server, "67890")
    assert reply["metadata"]["assistant"] == "private"
    assert reply["content"] == unlocked["response"]
    assert password not in user["content"]  # the password is taken out before it is stored

    # Without the password, Bob answers the same session again.
    ask(server, "67890", "And now?")
    assert session_messages(server, "67890")[-1]["metadata"]["assistant"] == "default"


# CORS --------------------------------------------------------------------------------------

PREFLIGHTS = [("GET", "/"), ("POST", "/ask"), ("PUT", "/threads/t1"), ("DELETE", "/threads/t1")]


def preflight(server: SeedServer, method: str, path: str) -> httpx.Response:
    return httpx.options(
        server.url + path,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "content-type, x-api-key",
        },
        timeout=10,
    )


def allowed_methods(response: httpx.Response) -> set[str]:
    header = response.headers.get("access-control-allow-methods", "")
    return {method.strip() for method in header.split(",")}


@pytest.mark.parametrize(("method", "path"), PREFLIGHTS)
def test_cors_preflight_allows_any_origin_the_designs_methods_and_any_header(
    server: SeedServer, method: str, path: str
) -> None:
    assert method in designs.CORS_CONFIGURATION["allow_methods"]
    response = preflight(server, method, path)

    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] in ("*", ORIGIN)
    assert set(designs.CORS_CONFIGURATION["allow_methods"]) <= allowed_methods(response)
    allowed_headers = response.headers["access-control-allow-headers"].lower()
    assert {"content-type", "x-api-key"} <= {h.strip() for h in allowed_headers.split(",")}


def test_cors_allows_the_cross_origin_request_itself(server: SeedServer) -> None:
    response = httpx.post(
        f"{server.url}/ask",
        json={"session_id": "cors-1", "user_input": "Hi from a web page"},
        headers={"Origin": ORIGIN},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] in ("*", ORIGIN)
    assert set(response.json()) == {"session_id", "response"}


def test_cors_allows_credentials_from_any_origin(server: SeedServer) -> None:
    """``allow_credentials=True`` with ``allow_origins=["*"]``: a browser sends cookies or
    HTTP authentication only when the answer names its origin (never ``*``) and allows
    credentials."""
    assert designs.CORS_CONFIGURATION["allow_credentials"] is True
    response = preflight(server, "POST", "/ask")
    assert response.status_code == 200, response.text
    assert response.headers.get("access-control-allow-credentials") == "true"
    assert response.headers["access-control-allow-origin"] == ORIGIN

    actual = httpx.post(
        f"{server.url}/ask",
        json={"session_id": "cors-2", "user_input": "Hi with a cookie"},
        headers={"Origin": ORIGIN, "Cookie": "session=web-1"},
        timeout=10,
    )
    assert actual.status_code == 200, actual.text
    assert actual.headers.get("access-control-allow-credentials") == "true"
    assert actual.headers["access-control-allow-origin"] == ORIGIN
