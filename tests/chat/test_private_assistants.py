"""Private assistants: key grants, and the unlock phrase that is never stored or sent."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.chat.conftest import new_assistant, new_thread
from tests.fixtures.app import services_of
from tests.llm.stub_openai import StubOpenAI
from threadloom.store.base import MessageQuery

pytestmark = pytest.mark.anyio

PHRASE = "open sesame 42"


async def _keys(app: FastAPI) -> tuple[dict[str, str], dict[str, str], str, dict[str, str]]:
    keys = services_of(app).keys
    admin, _ = await keys.create("admin", None)
    granted, granted_row = await keys.create("writer", "default")
    other, _ = await keys.create("writer", "default")
    return {"X-API-Key": admin}, {"X-API-Key": granted}, granted_row["id"], {"X-API-Key": other}


async def test_a_private_assistant_answers_only_granted_keys(
    api: httpx.AsyncClient, app: FastAPI
) -> None:
    admin, granted, granted_id, other = await _keys(app)
    secret = await new_assistant(
        api, admin, name="vault", provider="offline", private=True, grants=[granted_id]
    )
    thread_id = await new_thread(api, admin)
    url = f"/v1/spaces/default/threads/{thread_id}/chat"
    body = {"content": "hi", "assistant": secret["id"]}
    refused = await api.post(url, json=body, headers=other)
    assert refused.status_code == 404
    answered = await api.post(url, json=body, headers=granted)
    assert answered.status_code == 201, answered.text
    assert answered.json()["metadata"]["assistant"] == secret["id"]
    by_admin = await api.post(url, json=body, headers=admin)
    assert by_admin.status_code == 201


async def test_the_unlock_phrase_switches_to_the_private_assistant_and_is_never_kept(
    api: httpx.AsyncClient, app: FastAPI, stub: StubOpenAI, database_url: str
) -> None:
    admin, _, _, other = await _keys(app)
    secret = await new_assistant(
        api,
        admin,
        name="vault",
        provider="openai",
        model="stub-stream",
        system_prompt="You are the vault keeper.",
        private=True,
        unlock_phrase=PHRASE,
    )
    assert "unlock_phrase" not in secret
    assert PHRASE not in str(secret)
    thread_id = await new_thread(api, other)
    url = f"/v1/spaces/default/threads/{thread_id}/chat"
    content = f"Hello! {PHRASE}. What is inside?"
    response = await api.post(url, json={"content": content}, headers=other)
    assert response.status_code == 201, response.text
    assert response.json()["metadata"]["assistant"] == secret["id"]
    sent = stub.requests[-1].body["messages"]
    assert sent[0] == {"role": "system", "content": "You are the vault keeper."}
    assert "sesame" not in str(sent)
    assert sent[-1]["content"] == "Hello! What is inside?"
    # Not in the stored messages, not in any row of the database.
    page = await services_of(app).store.list_messages(
        "default", thread_id, MessageQuery(limit=10, include_private=True)
    )
    assert page is not None
    assert all("sesame" not in row["content"] for row in page.rows)
    if database_url.startswith("sqlite"):
        raw = Path(database_url.removeprefix("sqlite:///")).read_bytes()
        for suffix in ("-wal",):
            wal = Path(database_url.removeprefix("sqlite:///") + suffix)
            if wal.exists():
                raw += wal.read_bytes()
        assert b"sesame" not in raw
    # Without the phrase the same key gets the default assistant.
    plain = await api.post(url, json={"content": "open it"}, headers=other)
    assert plain.json()["metadata"]["assistant"] == "default"


async def test_the_unlock_phrase_works_through_ask(
    api: httpx.AsyncClient, app: FastAPI, stub: StubOpenAI
) -> None:
    admin, _, _, other = await _keys(app)
    await new_assistant(
        api,
        admin,
        name="vault",
        provider="openai",
        model="stub-stream",
        system_prompt="Vault.",
        private=True,
        unlock_phrase=PHRASE,
    )
    response = await api.post(
        "/ask", json={"session_id": "s", "user_input": f"{PHRASE} hello"}, headers=other
    )
    assert response.status_code == 200, response.text
    assert stub.requests[-1].body["messages"][0]["content"] == "Vault."
    history = (await api.get("/session/s/history", headers=admin)).json()["history"]
    assert history[0]["input"] == "hello"


async def test_the_designs_bob_and_private_bob_with_password_973808(
    api: httpx.AsyncClient, app: FastAPI, stub: StubOpenAI
) -> None:
    """The original design: Bob answers, Private-Bob answers whoever writes 973808 (a
    six-character phrase, accepted with a warning); the password never reaches the thread."""
    admin, _, _, other = await _keys(app)
    bob = await new_assistant(
        api, admin, id="default", name="Bob", provider="openai", system_prompt="You are Bob."
    )
    assert bob["warnings"] == []
    private_bob = await new_assistant(
        api,
        admin,
        id="private-bob",
        name="Private-Bob",
        provider="openai",
        system_prompt="You are Private-Bob.",
        private=True,
        unlock_phrase="973808",
    )
    assert [w["code"] for w in private_bob["warnings"]] == ["short_unlock_phrase"]
    assert "973808" not in str(private_bob)

    unlocked = await api.post(
        "/ask",
        json={"session_id": "12345", "user_input": "973808 Hello, how are you?"},
        headers=other,
    )
    assert unlocked.status_code == 200, unlocked.text
    sent = stub.requests[-1].body["messages"]
    assert sent[0]["content"] == "You are Private-Bob."
    assert "973808" not in str(sent)
    plain = await api.post(
        "/ask", json={"session_id": "12345", "user_input": "Hello again"}, headers=other
    )
    assert plain.status_code == 200, plain.text
    assert stub.requests[-1].body["messages"][0]["content"] == "You are Bob."
    history = (await api.get("/session/12345/history", headers=admin)).json()["history"]
    assert [turn["input"] for turn in history] == ["Hello, how are you?", "Hello again"]

    thread_id = await new_thread(api, other)
    url = f"/v1/spaces/default/threads/{thread_id}/chat"
    by_phrase = await api.post(url, json={"content": "my password is 973808."}, headers=other)
    assert by_phrase.status_code == 201, by_phrase.text
    assert by_phrase.json()["metadata"]["assistant"] == "private-bob"
    by_default = await api.post(url, json={"content": "not 9738080"}, headers=other)
    assert by_default.json()["metadata"]["assistant"] == "default"
    stored = await services_of(app).store.list_messages(
        "default", thread_id, MessageQuery(limit=10, include_private=True)
    )
    assert stored is not None
    users = [row["content"] for row in stored.rows if row["role"] == "user"]
    assert users == ["my password is", "not 9738080"]
