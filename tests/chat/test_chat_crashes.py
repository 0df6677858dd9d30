"""A chat under an Idempotency-Key at each point a crash can leave it (core/chat.py): the
retry stores no second user message, asks the model only when no reply is recorded, and
never waits for the dead run's thread lease."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.chat.conftest import messages_of, new_assistant, new_thread
from tests.fixtures.app import services_of
from tests.llm.stub_openai import StubOpenAI
from threadloom.core.chat import ChatKey
from threadloom.core.idempotency import fingerprint
from threadloom.models import ChatCreate, MessageCreate
from threadloom.store.idempotent import writing_under

pytestmark = pytest.mark.anyio

OPEN_SCOPE = "open"
KEY = "chat-crash"
BODY = {"content": "Capital of France?"}


def chat_url(thread_id: str) -> str:
    return f"/v1/spaces/default/threads/{thread_id}/chat"


def chat_key(thread_id: str) -> ChatKey:
    request_hash = fingerprint(
        "POST", chat_url(thread_id), ChatCreate(**BODY).model_dump(mode="json")
    )
    return ChatKey(OPEN_SCOPE, KEY, request_hash)


async def died_after_the_user_message(app: FastAPI, thread_id: str) -> None:
    """What a run killed while the model generated leaves: its user message with its
    record, and the thread's lease held in the key's name."""
    store = services_of(app).store
    key = chat_key(thread_id)
    lease = f"chat:default:{thread_id}"
    assert await store.acquire_lease(lease, key.lease_holder(), 30) is None
    with writing_under(key.user_message()):
        await store.append_messages("default", thread_id, [MessageCreate(**BODY)])


async def test_a_retry_after_a_crash_mid_generation_answers_at_once(
    app: FastAPI, api: httpx.AsyncClient, stub: StubOpenAI
) -> None:
    stub.reset(reply="Paris.")
    thread_id = await new_thread(api)
    await died_after_the_user_message(app, thread_id)
    retry = await api.post(chat_url(thread_id), json=BODY, headers={"Idempotency-Key": KEY})
    assert retry.status_code == 201, retry.text  # not 409: the lease is the key's own
    assert "idempotent-replayed" not in retry.headers
    stored = await messages_of(api, thread_id)
    assert [(m["role"], m["content"]) for m in stored] == [
        ("user", "Capital of France?"),
        ("assistant", "Paris."),
    ]
    assert retry.json()["metadata"]["reply_to"] == stored[0]["id"]
    again = await api.post(chat_url(thread_id), json=BODY, headers={"Idempotency-Key": KEY})
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == retry.content


async def test_a_retry_after_the_reply_committed_does_not_ask_the_model(
    api: httpx.AsyncClient, stub: StubOpenAI
) -> None:
    stub.reset(reply="Paris.")
    thread_id = await new_thread(api)
    first = await api.post(chat_url(thread_id), json=BODY, headers={"Idempotency-Key": KEY})
    assert first.status_code == 201, first.text
    asked = len(stub.requests)
    retry = await api.post(chat_url(thread_id), json=BODY, headers={"Idempotency-Key": KEY})
    assert retry.status_code == 201
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.content == first.content
    assert len(stub.requests) == asked
    assert len(await messages_of(api, thread_id)) == 2


async def test_a_retry_after_a_provider_failure_keeps_one_user_message(
    api: httpx.AsyncClient, stub: StubOpenAI
) -> None:
    stub.reset(reply="Paris.")
    assistant = await new_assistant(api, name="flaky", provider="openai", model="stub-400")
    thread_id = await new_thread(api)
    body = {**BODY, "assistant": assistant["id"]}
    headers = {"Idempotency-Key": KEY}
    failed = await api.post(chat_url(thread_id), json=body, headers=headers)
    assert failed.status_code == 502, failed.text
    fixed = await api.patch(
        f"/v1/spaces/default/assistants/{assistant['id']}", json={"model": "stub-stream"}
    )
    assert fixed.status_code == 200, fixed.text
    retry = await api.post(chat_url(thread_id), json=body, headers=headers)
    assert retry.status_code == 201, retry.text
    stored = await messages_of(api, thread_id)
    assert [(m["role"], m["content"]) for m in stored] == [
        ("user", "Capital of France?"),
        ("assistant", "Paris."),
    ]


async def test_a_duplicate_while_the_first_runs_here_is_409(
    app: FastAPI, api: httpx.AsyncClient
) -> None:
    thread_id = await new_thread(api)
    idempotency = services_of(app).idempotency
    idempotency.hold(OPEN_SCOPE, KEY)  # the first request is running in this process
    try:
        duplicate = await api.post(chat_url(thread_id), json=BODY, headers={"Idempotency-Key": KEY})
    finally:
        idempotency.let_go(OPEN_SCOPE, KEY)
    assert duplicate.status_code == 409, duplicate.text
    assert duplicate.headers["retry-after"] == "1"
    assert await messages_of(api, thread_id) == []
