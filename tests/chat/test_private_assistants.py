"""Private assistants: key grants, and the unlock phrase that is never stored or sent."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.chat.conftest import new_assistant, new_thread
from tests.conftest import services_of
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
