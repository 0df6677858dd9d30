"""Which provider and model answer for an assistant, and a misconfigured server."""

from __future__ import annotations

import pytest

from threadloom.core.providers import ProviderPool
from threadloom.errors import ServiceUnavailable
from threadloom.llm.config import LLMConfig, resolve_llm_config
from threadloom.llm.offline import OfflineProvider

pytestmark = pytest.mark.anyio

OPENAI = LLMConfig("openai", "gpt-test", base_url="http://127.0.0.1:9/v1", api_key="sk-x")
OFFLINE = LLMConfig("offline", "offline")


async def test_an_assistant_without_a_provider_uses_the_servers() -> None:
    pool = ProviderPool(lambda: OPENAI)
    choice = pool.choose({"id": "a", "provider": None, "model": None})
    assert (choice.label, choice.model) == ("openai", "gpt-test")
    assert choice.provider.name.startswith("openai")
    assert pool.choose({"id": "b", "provider": None, "model": "other"}).model == "other"
    # One client for every assistant of the configured provider.
    assert pool.choose({"id": "c", "provider": "openai"}).provider is choice.provider
    await pool.aclose()


async def test_offline_is_always_available() -> None:
    pool = ProviderPool(lambda: OPENAI)
    choice = pool.choose({"id": "a", "provider": "offline", "model": None})
    assert isinstance(choice.provider, OfflineProvider)
    assert (choice.label, choice.model) == ("offline", "offline")
    await pool.aclose()


async def test_an_openai_assistant_on_an_offline_server_is_a_503() -> None:
    pool = ProviderPool(lambda: OFFLINE)
    assert pool.choose({"id": "a", "provider": None}).label == "offline"
    with pytest.raises(ServiceUnavailable, match="THREADLOOM_LLM_BASE_URL"):
        pool.choose({"id": "a", "provider": "openai"})


def test_a_misconfigured_server_says_what_to_set_when_first_used() -> None:
    calls: list[int] = []

    def resolve() -> LLMConfig:
        calls.append(1)
        return resolve_llm_config(provider="openai", env={})

    pool = ProviderPool(resolve)
    assert calls == []  # building the pool does not resolve anything
    with pytest.raises(ServiceUnavailable, match="needs an API key"):
        pool.choose({"id": "a", "provider": None})
