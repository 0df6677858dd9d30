"""Which provider and model answer for an assistant, and a misconfigured server."""

from __future__ import annotations

import sys

import pytest

import threadloom.llm
from tests.fixtures.databases import make_settings
from threadloom.core.assistants import AssistantView
from threadloom.core.providers import ProviderPool
from threadloom.errors import ServiceUnavailable
from threadloom.llm.config import LLMConfig, resolve_llm_config
from threadloom.llm.offline import OfflineProvider
from threadloom.server.app import create_app

pytestmark = pytest.mark.anyio

OPENAI = LLMConfig("openai", "gpt-test", base_url="http://127.0.0.1:9/v1", api_key="sk-x")
OFFLINE = LLMConfig("offline", "offline")


def assistant(assistant_id: str, provider: str | None, model: str | None = None) -> AssistantView:
    """An assistant as the pool is shown it; only its provider and model matter."""
    return {
        "object": "assistant",
        "id": assistant_id,
        "space_id": "default",
        "name": assistant_id,
        "provider": provider,
        "model": model,
        "system_prompt": None,
        "temperature": None,
        "max_tokens": None,
        "context_tokens": 8192,
        "private": False,
        "grants": [],
        "has_unlock_phrase": False,
        "metadata": {},
        "created_at": None,
        "updated_at": None,
    }


async def test_an_assistant_without_a_provider_uses_the_servers() -> None:
    pool = ProviderPool(lambda: OPENAI)
    choice = pool.choose(assistant("a", None))
    assert (choice.label, choice.model) == ("openai", "gpt-test")
    assert choice.provider.name.startswith("openai")
    assert pool.choose(assistant("b", None, "other")).model == "other"
    # One client for every assistant of the configured provider.
    assert pool.choose(assistant("c", "openai")).provider is choice.provider
    await pool.aclose()


async def test_offline_is_always_available() -> None:
    pool = ProviderPool(lambda: OPENAI)
    choice = pool.choose(assistant("a", "offline"))
    assert isinstance(choice.provider, OfflineProvider)
    assert (choice.label, choice.model) == ("offline", "offline")
    await pool.aclose()


@pytest.fixture
def openai_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    """``import openai`` fails in this process, as if the SDK were not installed."""
    monkeypatch.setitem(sys.modules, "openai", None)
    monkeypatch.delitem(sys.modules, "threadloom.llm.openai_compat", raising=False)
    monkeypatch.delattr(threadloom.llm, "openai_compat", raising=False)


async def test_an_openai_assistant_on_an_offline_server_is_a_503() -> None:
    pool = ProviderPool(lambda: OFFLINE)
    assert pool.choose(assistant("a", None)).label == "offline"
    with pytest.raises(ServiceUnavailable, match="THREADLOOM_LLM_BASE_URL") as raised:
        pool.choose(assistant("a", "openai"))
    assert "pip install" not in str(raised.value)  # the SDK is installed here


@pytest.mark.usefixtures("openai_missing")
async def test_without_the_sdk_the_503_also_says_what_to_install() -> None:
    pool = ProviderPool(lambda: OFFLINE)
    with pytest.raises(ServiceUnavailable, match="THREADLOOM_LLM_BASE_URL") as raised:
        pool.choose(assistant("a", "openai"))
    assert "the openai package is missing: pip install 'threadloom[openai]'" in str(raised.value)


@pytest.mark.usefixtures("openai_missing")
def test_a_configured_provider_without_its_sdk_is_refused_before_any_chat() -> None:
    pool = ProviderPool(lambda: OPENAI)
    with pytest.raises(ServiceUnavailable, match="but the openai package is missing"):
        _ = pool.config
    # The offline provider needs nothing, whatever is installed.
    assert ProviderPool(lambda: OFFLINE).config.provider == "offline"


@pytest.mark.usefixtures("openai_missing")
async def test_a_server_process_without_the_sdk_of_its_model_does_not_start(
    sqlite_url: str,
) -> None:
    settings = make_settings(
        database_url=sqlite_url,
        migrate_on_start=False,
        llm_base_url="http://127.0.0.1:9/v1",
        llm_model="llama3.2",
    )
    app = create_app(settings)
    with pytest.raises(ServiceUnavailable, match="pip install 'threadloom\\[openai\\]'"):
        async with app.router.lifespan_context(app):
            pytest.fail("the server started")


def test_a_misconfigured_server_says_what_to_set_when_first_used() -> None:
    calls: list[int] = []

    def resolve() -> LLMConfig:
        calls.append(1)
        return resolve_llm_config(provider="openai", env={})

    pool = ProviderPool(resolve)
    assert calls == []  # building the pool does not resolve anything
    with pytest.raises(ServiceUnavailable, match="needs an API key"):
        pool.choose(assistant("a", None))
