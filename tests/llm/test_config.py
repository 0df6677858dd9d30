"""From settings and environment to a provider."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import TypedDict

import pytest

import threadloom.llm
from threadloom.llm import OfflineProvider, create_provider, resolve_llm_config
from threadloom.llm.config import GROQ_BASE_URL, OPENAI_BASE_URL, LLMConfig
from threadloom.llm.openai_compat import OpenAICompatProvider

pytestmark = pytest.mark.anyio

OPENAI_KEY = "sk-openai-0123456789"
GROQ_KEY = "gsk_groq_0123456789"


def test_default_is_offline() -> None:
    config = resolve_llm_config(env={})
    assert config == LLMConfig("offline", "offline")
    assert isinstance(create_provider(config), OfflineProvider)
    assert config.describe() == "offline provider (no language model is configured)"


def test_blank_values_count_as_unset() -> None:
    config = resolve_llm_config(
        provider=" ", model="", base_url="", api_key="", env={"OPENAI_API_KEY": ""}
    )
    assert config.provider == "offline"


def test_openai_api_key_chooses_openai() -> None:
    config = resolve_llm_config(env={"OPENAI_API_KEY": OPENAI_KEY})
    assert config.provider == "openai"
    assert config.base_url == OPENAI_BASE_URL
    assert config.api_key == OPENAI_KEY
    assert config.model == "gpt-4o-mini"
    assert config.key_source == "OPENAI_API_KEY"
    assert (
        config.describe() == "openai at api.openai.com, model gpt-4o-mini, key from OPENAI_API_KEY"
    )


def test_groq_api_key_chooses_groq() -> None:
    config = resolve_llm_config(env={"GROQ_API_KEY": GROQ_KEY})
    assert (config.provider, config.base_url, config.api_key, config.key_source) == (
        "openai",
        GROQ_BASE_URL,
        GROQ_KEY,
        "GROQ_API_KEY",
    )
    assert config.model == "llama-3.1-8b-instant"


def test_openai_wins_when_both_keys_are_set() -> None:
    env = {"OPENAI_API_KEY": OPENAI_KEY, "GROQ_API_KEY": GROQ_KEY}
    assert resolve_llm_config(env=env).base_url == OPENAI_BASE_URL
    groq = resolve_llm_config(base_url=GROQ_BASE_URL + "/", model="qwen", env=env)
    assert (groq.base_url, groq.api_key, groq.model) == (GROQ_BASE_URL, GROQ_KEY, "qwen")


def test_explicit_values_win() -> None:
    env = {"OPENAI_API_KEY": OPENAI_KEY}
    config = resolve_llm_config(
        provider="OpenAI", model="gpt-4.1", api_key="sk-explicit", timeout=5, max_retries=0, env=env
    )
    assert (config.provider, config.model, config.api_key) == ("openai", "gpt-4.1", "sk-explicit")
    assert config.key_source == "THREADLOOM_LLM_API_KEY"
    assert (config.timeout, config.max_retries) == (5, 0)


def test_offline_ignores_keys() -> None:
    env = {"OPENAI_API_KEY": OPENAI_KEY, "GROQ_API_KEY": GROQ_KEY}
    config = resolve_llm_config(provider="offline", api_key="sk-x", env=env)
    assert config == LLMConfig("offline", "offline")


def test_keys_never_go_to_other_servers() -> None:
    env = {"OPENAI_API_KEY": OPENAI_KEY, "GROQ_API_KEY": GROQ_KEY}
    config = resolve_llm_config(base_url="http://localhost:11434/v1", model="llama3.2", env=env)
    assert (config.provider, config.base_url) == ("openai", "http://localhost:11434/v1")
    assert config.api_key is None
    assert config.key_source is None
    assert config.describe() == "openai at localhost:11434, model llama3.2, no key"


def test_read_the_environment_only_when_called(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("GROQ_API_KEY", GROQ_KEY)
    assert resolve_llm_config().base_url == GROQ_BASE_URL


class LLMOptions(TypedDict, total=False):
    """Keyword arguments of ``resolve_llm_config`` (``env`` apart)."""

    provider: str | None
    model: str | None
    base_url: str | None
    api_key: str | None
    timeout: float
    max_retries: int


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"provider": "anthropic"},
            "unknown LLM provider 'anthropic': choose one of offline, openai",
        ),
        ({"provider": "openai"}, "set THREADLOOM_LLM_API_KEY or OPENAI_API_KEY"),
        ({"base_url": GROQ_BASE_URL}, "set THREADLOOM_LLM_API_KEY or GROQ_API_KEY"),
        ({"base_url": "http://127.0.0.1:8080/v1"}, "no default model for http://127.0.0.1:8080/v1"),
        ({"base_url": "localhost:11434"}, "must be http(s)://"),
        ({"provider": "openai", "timeout": 0}, "timeout must be positive"),
        ({"provider": "openai", "max_retries": -1}, "max_retries must be 0 or more"),
    ],
)
def test_unusable_settings_say_what_to_set(kwargs: LLMOptions, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        resolve_llm_config(env={}, **kwargs)


async def test_creates_the_openai_provider_and_hides_the_key() -> None:
    config = resolve_llm_config(env={"GROQ_API_KEY": GROQ_KEY}, timeout=7, max_retries=1)
    assert GROQ_KEY not in repr(config)
    provider = create_provider(config)
    try:
        assert isinstance(provider, OpenAICompatProvider)
        assert (provider.base_url, provider.timeout, provider.max_retries) == (
            GROQ_BASE_URL,
            7,
            1,
        )
        assert provider.name == "openai (api.groq.com)"
        assert GROQ_KEY not in repr(provider)
    finally:
        await provider.aclose()


def _imported_by(module: str) -> set[str]:
    """The sibling modules of ``threadloom.llm`` that ``module`` imports, anywhere in it."""
    source = Path(threadloom.llm.__file__).with_name(f"{module}.py").read_text()
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module} if node.module else {alias.name for alias in node.names}
    return found


def test_config_and_the_openai_provider_import_one_way() -> None:
    """``config`` builds the provider (importing ``openai_compat`` when it is asked for);
    ``openai_compat`` needs nothing of ``config``."""
    assert "openai_compat" in _imported_by("config")
    assert "config" not in _imported_by("openai_compat")
