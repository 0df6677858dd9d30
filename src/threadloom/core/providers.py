"""The language model providers one process talks to, made on first use and closed at exit.

The server has one configured provider (``THREADLOOM_LLM_*``, see :mod:`threadloom.llm.config`)
and always has the offline one. An assistant names ``offline``, ``openai`` or nothing (the
server's provider) and may name a model; this module turns that into a provider and a model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import ServiceUnavailable
from ..llm.base import LLMProvider
from ..llm.config import OFFLINE_MODEL, LLMConfig, create_provider
from ..llm.offline import OfflineProvider

__all__ = ["ProviderChoice", "ProviderPool"]


@dataclass(frozen=True, slots=True)
class ProviderChoice:
    """Which provider answers, with which model; ``label`` is the provider's name as stored
    in a reply's metadata (``offline`` or ``openai``)."""

    provider: LLMProvider
    label: str
    model: str


class ProviderPool:
    """``resolve`` gives the server's configuration; it is called once, on first use, so a
    process that never chats (the CLI, the library) never needs a valid one."""

    def __init__(self, resolve: Callable[[], LLMConfig]) -> None:
        self._resolve = resolve
        self._config: LLMConfig | None = None
        self._offline = OfflineProvider()
        self._configured: LLMProvider | None = None

    @property
    def config(self) -> LLMConfig:
        if self._config is None:
            try:
                self._config = self._resolve()
            except ValueError as exc:
                raise ServiceUnavailable(f"the language model is misconfigured: {exc}") from exc
        return self._config

    def choose(self, assistant: dict[str, Any]) -> ProviderChoice:
        """The provider and model for ``assistant`` (a wire-shape assistant row)."""
        wanted = assistant.get("provider") or self.config.provider
        model = assistant.get("model")
        if wanted == "offline":
            fallback = self.config.model if self.config.provider == "offline" else OFFLINE_MODEL
            return ProviderChoice(self._offline, "offline", model or fallback)
        if self.config.provider != "openai":
            raise ServiceUnavailable(
                f"assistant {assistant.get('id')!r} uses the openai provider, which this "
                "server has not configured: set THREADLOOM_LLM_BASE_URL and "
                "THREADLOOM_LLM_API_KEY (or OPENAI_API_KEY / GROQ_API_KEY)"
            )
        if self._configured is None:
            self._configured = create_provider(self.config)
        return ProviderChoice(self._configured, "openai", model or self.config.model)

    async def aclose(self) -> None:
        if self._configured is not None:
            provider, self._configured = self._configured, None
            await provider.aclose()
