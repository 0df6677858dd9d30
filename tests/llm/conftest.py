"""The stub OpenAI-compatible server (one per session, emptied for every test) and providers
pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from threadloom.llm.openai_compat import OpenAICompatProvider

from .stub_openai import StubOpenAI

API_KEY = "sk-test-4f1c9d0b7e2a"


@pytest.fixture(scope="session")
def stub_server() -> Iterator[StubOpenAI]:
    with StubOpenAI(stall_seconds=30.0) as stub:
        yield stub


@pytest.fixture
def stub(stub_server: StubOpenAI) -> StubOpenAI:
    stub_server.reset()
    return stub_server


@pytest.fixture
async def provider(stub: StubOpenAI) -> AsyncIterator[OpenAICompatProvider]:
    async with OpenAICompatProvider(
        base_url=stub.base_url, api_key=API_KEY, timeout=5.0, max_retries=0
    ) as provider:
        yield provider
