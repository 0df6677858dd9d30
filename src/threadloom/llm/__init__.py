"""Language model providers: a small protocol, an offline provider, an OpenAI-compatible one.

``import threadloom`` does not import this package, and this package does not import the
``openai`` SDK: :mod:`threadloom.llm.openai_compat` does, and :func:`create_provider` imports
it only for the ``openai`` provider (``pip install 'threadloom[openai]'``).

    config = resolve_llm_config(provider=settings.llm_provider, model=..., env=os.environ)
    provider = create_provider(config)
    async for event in provider.stream(messages, model=config.model):
        ...
"""

from .base import (
    ChatMessage,
    ChatRole,
    Completion,
    LLMProvider,
    ProviderAuthFailed,
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderStreamInterrupted,
    ProviderTimeout,
    ProviderUnavailable,
    StreamDone,
    StreamEvent,
    TextDelta,
    ToolCall,
    Usage,
    complete,
)
from .config import LLMConfig, create_provider, resolve_llm_config
from .offline import OfflineProvider
from .tokens import count_message_tokens, count_prompt_tokens, count_text_tokens, fit_newest

__all__ = [
    "ChatMessage",
    "ChatRole",
    "Completion",
    "LLMConfig",
    "LLMProvider",
    "OfflineProvider",
    "ProviderAuthFailed",
    "ProviderError",
    "ProviderRateLimited",
    "ProviderRejected",
    "ProviderStreamInterrupted",
    "ProviderTimeout",
    "ProviderUnavailable",
    "StreamDone",
    "StreamEvent",
    "TextDelta",
    "ToolCall",
    "Usage",
    "complete",
    "count_message_tokens",
    "count_prompt_tokens",
    "count_text_tokens",
    "create_provider",
    "fit_newest",
    "resolve_llm_config",
]
