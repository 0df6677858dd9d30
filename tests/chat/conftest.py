"""Chat tests: a server whose configured provider is the stub OpenAI-compatible server.

An assistant's model picks the stub's behaviour (``stub-stream``, ``stub-stall-mid``,
``stub-500``...; see ``tests/llm/stub_openai.py``), so one server covers every case.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fixtures.databases import make_settings
from tests.llm.stub_openai import StubOpenAI
from threadloom.config import Settings

API_KEY = "sk-test-chat-7d2e94a1"
PROBLEMS = "https://threadloom.dev/problems/"


@pytest.fixture(scope="session")
def stub_server() -> Iterator[StubOpenAI]:
    with StubOpenAI(stall_seconds=30.0) as stub:
        yield stub


@pytest.fixture
def stub(stub_server: StubOpenAI) -> StubOpenAI:
    stub_server.reset()
    return stub_server


def llm_env(stub: StubOpenAI, *, timeout: float = 5.0) -> dict[str, str]:
    """The environment of a server process that talks to ``stub``."""
    return {
        "THREADLOOM_LLM_PROVIDER": "openai",
        "THREADLOOM_LLM_BASE_URL": stub.base_url,
        "THREADLOOM_LLM_API_KEY": API_KEY,
        "THREADLOOM_LLM_MODEL": "stub-stream",
        "THREADLOOM_LLM_MAX_RETRIES": "0",
        "THREADLOOM_LLM_TIMEOUT_SECONDS": str(timeout),
    }


@pytest.fixture
def settings(database_url: str, stub: StubOpenAI) -> Settings:
    return make_settings(
        database_url=database_url,
        migrate_on_start=False,
        key_cache_seconds=0,
        llm_provider="openai",
        llm_base_url=stub.base_url,
        llm_api_key=API_KEY,
        llm_model="stub-stream",
        llm_max_retries=0,
        llm_timeout_seconds=2.0,
    )


async def new_thread(api: httpx.AsyncClient, headers: dict[str, str] | None = None) -> str:
    response = await api.post("/v1/spaces/default/threads", json={}, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def new_assistant(
    api: httpx.AsyncClient, headers: dict[str, str] | None = None, **fields: Any
) -> dict[str, Any]:
    fields.setdefault("name", f"assistant-{fields.get('model', 'default')}")
    response = await api.post("/v1/spaces/default/assistants", json=fields, headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def messages_of(api: httpx.AsyncClient, thread_id: str, **params: Any) -> list[Any]:
    params.setdefault("limit", 100)
    url = f"/v1/spaces/default/threads/{thread_id}/messages"
    response = await api.get(url, params={**params, "include_private": "true"})
    assert response.status_code == 200, response.text
    data: list[Any] = response.json()["data"]
    return data


def parse_sse(text: str) -> list[tuple[str, str]]:
    """(event, data) pairs of an event stream; comments (pings) are skipped."""
    events: list[tuple[str, str]] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data:
            events.append((name, "\n".join(data)))
    return events
