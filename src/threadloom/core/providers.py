"""The language model providers one process talks to, made on first use and closed at exit.

The server has one configured provider (``THREADLOOM_LLM_*``, see :mod:`threadloom.llm.config`)
and always has the offline one. An assistant names ``offline``, ``openai`` or nothing (the
server's provider) and may name a model; this module turns that into a provider and a model.

:func:`checked_llm_config` is the one check of the server's configuration: its values make a
provider and that provider's SDK imports. ``threadloom serve`` runs it before starting, and
every server process runs it again in its lifespan (through :attr:`ProviderPool.config`), so
a server that cannot talk to its model does not start, rather than failing each chat.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import ServiceUnavailable
from ..llm.base import LLMProvider
from ..llm.config import (
    INSTALL_OPENAI,
    OFFLINE_MODEL,
    LLMConfig,
    check_provider,
    create_provider,
    missing_sdk,
)
from ..llm.offline import OfflineProvider

if TYPE_CHECKING:
    from .assistants import AssistantView

__all__ = ["ProviderChoice", "ProviderPool", "checked_llm_config"]


def checked_llm_config(resolve: Callable[[], LLMConfig]) -> LLMConfig:
    """The configuration ``resolve`` gives, once its provider is known to be usable here;
    ``ServiceUnavailable`` says what to set or to install."""
    try:
        config = resolve()
    except ValueError as exc:
        raise ServiceUnavailable(f"the language model is misconfigured: {exc}") from exc
    try:
        check_provider(config)
    except ModuleNotFoundError as exc:
        raise ServiceUnavailable(str(exc)) from exc
    return config


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
            self._config = checked_llm_config(self._resolve)
        return self._config

    def choose(self, assistant: AssistantView) -> ProviderChoice:
        """The provider and model for ``assistant`` (a wire-shape assistant row)."""
        wanted = assistant.get("provider") or self.config.provider
        model = assistant.get("model")
        if wanted == "offline":
            fallback = self.config.model if self.config.provider == "offline" else OFFLINE_MODEL
            return ProviderChoice(self._offline, "offline", model or fallback)
        if self.config.provider != "openai":
            problem = missing_sdk("openai")
            install = f"; {problem}: {INSTALL_OPENAI}" if problem else ""
            raise ServiceUnavailable(
                f"assistant {assistant.get('id')!r} uses the openai provider, which this "
                "server has not configured: set THREADLOOM_LLM_BASE_URL and "
                f"THREADLOOM_LLM_API_KEY (or OPENAI_API_KEY / GROQ_API_KEY){install}"
            )
        if self._configured is None:
            self._configured = create_provider(self.config)
        return ProviderChoice(self._configured, "openai", model or self.config.model)

    async def aclose(self) -> None:
        if self._configured is not None:
            provider, self._configured = self._configured, None
            await provider.aclose()
