"""The provider contract: what a chat model is given, what it streams back, how it fails.

A provider turns a list of :class:`ChatMessage` into a stream of events: any number of
:class:`TextDelta`, then exactly one :class:`StreamDone` with the usage and finish reason.
When the upstream fails, the stream raises one of the :class:`ProviderError` classes instead
(the deltas already yielded are all the caller gets). They live in ``threadloom.errors`` with
every other error, so the client rebuilds them from problem documents too::

    ThreadloomError
    └── ProviderError               502  the language model provider failed
        ├── ProviderRejected            502  the upstream refused the request (4xx)
        │   └── ProviderAuthFailed          502  ... because of the API key (401/403)
        ├── ProviderRateLimited         502  the upstream answered 429, after our retries
        ├── ProviderUnavailable         502  connection failed or upstream 5xx, after retries
        │   └── ProviderStreamInterrupted   502  the reply broke off part way
        └── ProviderTimeout             504  the upstream did not answer in time

Messages name the provider, the upstream status and the upstream's own message, and never
the API key.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, get_args, runtime_checkable

from ..errors import (
    ProviderAuthFailed,
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderStreamInterrupted,
    ProviderTimeout,
    ProviderUnavailable,
)

__all__ = [
    "ChatMessage",
    "ChatRole",
    "Completion",
    "LLMProvider",
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
]

ChatRole = Literal["system", "user", "assistant", "tool"]
_ROLES: tuple[str, ...] = get_args(ChatRole)


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function call an assistant message made: its id, the function and its arguments
    (JSON text, as the model wrote them)."""

    id: str
    name: str
    arguments: str

    def as_chat_completions(self) -> dict[str, Any]:
        """The call as the chat-completions API (and threadloom's messages) write it."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of the conversation sent to a model.

    Only user messages carry images (http(s) or ``data:`` URLs), as in the chat-completions
    API; the caller decides what to do with images on other roles. Only assistant messages
    make ``tool_calls``, and a ``tool`` message is the result of the call ``tool_call_id``.
    """

    role: ChatRole
    content: str
    name: str | None = None
    images: Sequence[str] = field(default=())
    tool_calls: Sequence[ToolCall] = field(default=())
    tool_call_id: str | None = None

    def __post_init__(self) -> None:
        if self.role not in _ROLES:
            raise ValueError(f"role must be one of {', '.join(_ROLES)}, not {self.role!r}")
        # Tuples, so the message is immutable and hashable whatever sequences were given.
        object.__setattr__(self, "images", tuple(self.images))
        object.__setattr__(self, "tool_calls", tuple(self.tool_calls))
        if self.images and self.role != "user":
            raise ValueError(f"only user messages carry images, not {self.role} messages")
        if self.tool_calls and self.role != "assistant":
            raise ValueError(f"only assistant messages make tool calls, not {self.role} ones")
        if (self.role == "tool") != (self.tool_call_id is not None):
            raise ValueError("a tool message, and only one, answers a tool_call_id")


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one call; ``None`` where the upstream did not say."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class TextDelta:
    """The next piece of the reply's text."""

    text: str


@dataclass(frozen=True, slots=True)
class StreamDone:
    """The last event of a stream that completed."""

    usage: Usage
    finish_reason: str | None
    """``"stop"``, ``"length"`` (``max_tokens`` reached), ``"content_filter"``, ..."""
    model: str | None = None
    """The model that answered, as the upstream names it."""


StreamEvent = TextDelta | StreamDone


@dataclass(frozen=True, slots=True)
class Completion:
    """A whole reply, as :func:`complete` collects it."""

    text: str
    usage: Usage
    finish_reason: str | None
    model: str | None = None


@runtime_checkable
class LLMProvider(Protocol):
    """A chat model. ``stream`` is an async generator: ``async def`` with ``yield`` in an
    implementation, which is a plain ``def`` returning ``AsyncGenerator`` here.

    Break out of the stream early only inside ``contextlib.aclosing(...)`` so the upstream
    connection is released at once.
    """

    @property
    def name(self) -> str:
        """Says which provider this is in errors and logs (never secrets)."""
        ...

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        model: str,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> AsyncGenerator[StreamEvent, None]: ...

    async def aclose(self) -> None:
        """Release connections; the provider is not used afterwards."""
        ...


async def complete(
    provider: LLMProvider,
    messages: Sequence[ChatMessage],
    *,
    model: str,
    temperature: float | None = None,
    max_tokens: int | None = None,
) -> Completion:
    """Run ``provider.stream`` to the end and return the whole reply."""
    parts: list[str] = []
    done: StreamDone | None = None
    events = provider.stream(messages, model=model, temperature=temperature, max_tokens=max_tokens)
    async for event in events:
        if isinstance(event, TextDelta):
            parts.append(event.text)
        else:
            done = event
    if done is None:
        raise ProviderStreamInterrupted(
            provider=provider.name, what="the stream ended without its final event"
        )
    return Completion("".join(parts), done.usage, done.finish_reason, done.model)
