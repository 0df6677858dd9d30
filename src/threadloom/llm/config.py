"""From settings to a provider: which model, where, with which key.

:func:`resolve_llm_config` takes the ``THREADLOOM_LLM_*`` values (any may be missing) and an
environment mapping, and decides:

1. ``provider="offline"`` always gives the offline provider, whatever keys exist.
2. The key is the explicit ``api_key``; failing that, ``OPENAI_API_KEY`` for api.openai.com
   and ``GROQ_API_KEY`` for api.groq.com. Without a base URL, ``OPENAI_API_KEY`` chooses
   OpenAI, or else ``GROQ_API_KEY`` chooses Groq. These keys are never sent to any other
   server: a self-hosted or third-party endpoint gets only an explicit ``api_key``, and
   servers that need none (Ollama, vLLM, LM Studio) need nothing.
3. Without an explicit provider, ``openai`` is chosen when a key or a base URL was found,
   ``offline`` otherwise.
4. The model is the explicit one; OpenAI and Groq have a default, other endpoints must name it.

Nothing here reads the environment unless called, and ``openai`` is imported only for the
``openai`` provider, by :func:`missing_sdk` and the functions that call it. A server calls
:func:`check_provider` before it starts, so a missing SDK stops it at once with the command
that installs it, instead of failing every chat.

Imports point one way: this module imports ``openai_compat`` (when it is needed), never the
other way round; the hosts both know are in ``endpoints.py``, and which extra holds the SDK
is ``threadloom.extras``'s to say.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args
from urllib.parse import urlsplit

from ..extras import EXTRA_OF_MODULE, install_command
from .base import LLMProvider
from .endpoints import DEFAULT_MODELS, GROQ_BASE_URL, KEY_VARIABLES, OPENAI_BASE_URL
from .offline import OfflineProvider

__all__ = [
    "DEFAULT_MODELS",
    "GROQ_BASE_URL",
    "INSTALL_OPENAI",
    "LLMConfig",
    "OFFLINE_MODEL",
    "OPENAI_BASE_URL",
    "ProviderName",
    "check_provider",
    "create_provider",
    "missing_sdk",
    "resolve_llm_config",
]

ProviderName = Literal["offline", "openai"]
_PROVIDERS: tuple[str, ...] = get_args(ProviderName)

OFFLINE_MODEL = "offline"
INSTALL_OPENAI = install_command(EXTRA_OF_MODULE["openai"])
"""How to install the ``openai`` SDK that the openai provider needs (the extra is extras.py's)."""


@dataclass(frozen=True, slots=True)
class LLMConfig:
    """A resolved provider configuration. The key is kept out of ``repr``."""

    provider: ProviderName
    model: str
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    key_source: str | None = None
    """Where the key came from (``THREADLOOM_LLM_API_KEY``, ``GROQ_API_KEY``...), for logs."""
    timeout: float = 60.0
    max_retries: int = 2

    def describe(self) -> str:
        """One line for the startup log, e.g. ``openai at api.groq.com, model llama-3.1...``."""
        if self.provider == "offline":
            return "offline provider (no language model is configured)"
        where = urlsplit(self.base_url or OPENAI_BASE_URL).netloc.rpartition("@")[2]
        key = f"key from {self.key_source}" if self.key_source else "no key"
        return f"openai at {where}, model {self.model}, {key}"


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def _host(base_url: str) -> str:
    return (urlsplit(base_url).hostname or "").lower()


def resolve_llm_config(
    *,
    provider: str | None = None,
    model: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    timeout: float = 60.0,
    max_retries: int = 2,
    env: Mapping[str, str] | None = None,
    api_key_name: str = "THREADLOOM_LLM_API_KEY",
) -> LLMConfig:
    """Decide the provider, model, endpoint and key; ``env`` defaults to ``os.environ`` now.

    Raises ``ValueError`` with what to set when the values do not make a usable provider.
    """
    env = os.environ if env is None else env
    name = (_clean(provider) or "").lower() or None
    model = _clean(model)
    base_url = _clean(base_url)
    api_key = _clean(api_key)
    if name is not None and name not in _PROVIDERS:
        raise ValueError(f"unknown LLM provider {name!r}: choose one of {', '.join(_PROVIDERS)}")
    if timeout <= 0:
        raise ValueError(f"the LLM timeout must be positive, not {timeout!r}")
    if max_retries < 0:
        raise ValueError(f"the LLM max_retries must be 0 or more, not {max_retries!r}")
    if name == "offline":
        return LLMConfig("offline", model or OFFLINE_MODEL, timeout=timeout)
    if base_url is not None:
        base_url = base_url.rstrip("/")
        if urlsplit(base_url).scheme not in ("http", "https"):
            raise ValueError(f"the LLM base URL must be http(s)://..., not {base_url!r}")

    key_source = api_key_name if api_key is not None else None
    if api_key is None:
        if base_url is None:
            for url in (OPENAI_BASE_URL, GROQ_BASE_URL):
                variable = KEY_VARIABLES[_host(url)]
                if _clean(env.get(variable)):
                    base_url, key_source = url, variable
                    break
        else:
            key_source = KEY_VARIABLES.get(_host(base_url))
        if key_source is not None:
            api_key = _clean(env.get(key_source))
            key_source = key_source if api_key is not None else None

    if name is None:
        name = "openai" if api_key is not None or base_url is not None else "offline"
        if name == "offline":
            return LLMConfig("offline", model or OFFLINE_MODEL, timeout=timeout)

    base_url = base_url or OPENAI_BASE_URL
    host = _host(base_url)
    if api_key is None and host in KEY_VARIABLES:
        raise ValueError(
            f"the openai provider at {host} needs an API key: "
            f"set {api_key_name} or {KEY_VARIABLES[host]}"
        )
    model = model or DEFAULT_MODELS.get(host)
    if model is None:
        raise ValueError(f"no default model for {base_url}: set the model to use")
    return LLMConfig(
        "openai",
        model,
        base_url=base_url,
        api_key=api_key,
        key_source=key_source,
        timeout=timeout,
        max_retries=max_retries,
    )


def missing_sdk(provider: str) -> str | None:
    """Why ``provider`` cannot be built in this process (``the openai package is missing``),
    or None when it can."""
    if provider != "openai":
        return None
    try:
        from . import openai_compat  # noqa: F401
    except ModuleNotFoundError as exc:
        if exc.name == "openai":
            return "the openai package is missing"
        return f"the openai package does not import ({exc})"
    return None


def check_provider(config: LLMConfig) -> None:
    """Raise ``ModuleNotFoundError``, with the command that installs it, when the SDK of
    ``config``'s provider does not import."""
    problem = missing_sdk(config.provider)
    if problem is not None:
        raise ModuleNotFoundError(
            f"the language model is {config.describe()}, but {problem}: {INSTALL_OPENAI} "
            "(or set THREADLOOM_LLM_PROVIDER=offline)"
        )


def create_provider(config: LLMConfig) -> LLMProvider:
    """The provider ``config`` describes; close it with ``await provider.aclose()``."""
    if config.provider == "offline":
        return OfflineProvider()
    check_provider(config)
    from .openai_compat import OpenAICompatProvider

    return OpenAICompatProvider(
        base_url=config.base_url,
        api_key=config.api_key,
        timeout=config.timeout,
        max_retries=config.max_retries,
    )
