"""Any OpenAI-compatible chat-completions endpoint, through the official ``openai`` SDK.

OpenAI itself, Groq (``https://api.groq.com/openai/v1``), Ollama (``http://localhost:11434/v1``),
vLLM, LM Studio and others speak the same ``POST /chat/completions`` protocol. Replies are
streamed (``stream=True`` with ``stream_options={"include_usage": True}``), so the usage
arrives in the last chunk.

Retries are the SDK's own: connection errors, timeouts, 408, 409, 429 and 5xx are retried
``max_retries`` times with backoff (honouring ``Retry-After``) before the stream starts. Once
text has been streamed nothing is retried: a break is raised as
:class:`~threadloom.llm.base.ProviderStreamInterrupted`. Every SDK error is turned into one of
the :class:`~threadloom.llm.base.ProviderError` classes, chained to the SDK's exception for
the logs; the API key is never part of one (nor of the chain: an SDK exception that quotes
the key is dropped).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import Any, Literal, cast
from urllib.parse import urlsplit

import anyio
import httpx
import openai
from openai.types.chat import (
    ChatCompletionAssistantMessageParam,
    ChatCompletionContentPartParam,
    ChatCompletionMessageParam,
    ChatCompletionMessageToolCallParam,
    ChatCompletionSystemMessageParam,
    ChatCompletionToolMessageParam,
    ChatCompletionUserMessageParam,
)

from .base import (
    ChatMessage,
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
    Usage,
)
from .endpoints import OPENAI_BASE_URL

__all__ = ["NO_KEY", "OpenAICompatProvider", "to_openai_messages"]

NO_KEY = "no-key"
"""Sent to servers that need no key (Ollama, vLLM, LM Studio): the SDK insists on one."""
UPSTREAM_MESSAGE_CHARS = 500

MaxTokensParam = Literal["max_tokens", "max_completion_tokens"]


def to_openai_messages(messages: Sequence[ChatMessage]) -> list[ChatCompletionMessageParam]:
    """The chat-completions form of ``messages``; images become ``image_url`` parts."""
    return [_to_openai_message(message) for message in messages]


def _to_openai_message(message: ChatMessage) -> ChatCompletionMessageParam:
    if message.role == "system":
        system: ChatCompletionSystemMessageParam = {"role": "system", "content": message.content}
        if message.name:
            system["name"] = message.name
        return system
    if message.role == "assistant":
        assistant: ChatCompletionAssistantMessageParam = {
            "role": "assistant",
            # A message that only calls tools has no content, which the API writes as null.
            "content": message.content or None if message.tool_calls else message.content,
        }
        if message.name:
            assistant["name"] = message.name
        if message.tool_calls:
            assistant["tool_calls"] = [
                cast(ChatCompletionMessageToolCallParam, call.as_chat_completions())
                for call in message.tool_calls
            ]
        return assistant
    if message.role == "tool":
        assert message.tool_call_id is not None  # ChatMessage requires it
        tool: ChatCompletionToolMessageParam = {
            "role": "tool",
            "tool_call_id": message.tool_call_id,
            "content": message.content,
        }
        return tool
    content: str | list[ChatCompletionContentPartParam] = message.content
    if message.images:
        parts: list[ChatCompletionContentPartParam] = []
        if message.content:
            parts.append({"type": "text", "text": message.content})
        for url in message.images:
            parts.append({"type": "image_url", "image_url": {"url": url}})
        content = parts
    user: ChatCompletionUserMessageParam = {"role": "user", "content": content}
    if message.name:
        user["name"] = message.name
    return user


class OpenAICompatProvider:
    """A chat model behind an OpenAI-compatible endpoint.

    ``timeout`` is how many seconds to wait to connect, and then for each next piece of the
    reply (not for the whole reply). ``max_tokens_param`` names the field ``max_tokens`` is
    sent as: OpenAI's reasoning models want ``max_completion_tokens``, while most other
    servers know only ``max_tokens``.
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        max_tokens_param: MaxTokensParam = "max_tokens",
        default_headers: dict[str, str] | None = None,
    ) -> None:
        self.base_url = (base_url or OPENAI_BASE_URL).rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_tokens_param: MaxTokensParam = max_tokens_param
        self._api_key = api_key or NO_KEY
        # Everything passed explicitly, so the SDK does not fall back to OPENAI_BASE_URL or
        # OPENAI_API_KEY from the environment behind the caller's back.
        self._client = openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=self._api_key,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
        )
        host = urlsplit(self.base_url).hostname or self.base_url
        port = urlsplit(self.base_url).port
        self._name = f"openai ({host}:{port})" if port else f"openai ({host})"

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"OpenAICompatProvider(base_url={self.base_url!r}, timeout={self.timeout!r})"

    async def __aenter__(self) -> OpenAICompatProvider:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.close()

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        model: str,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> AsyncGenerator[StreamEvent, None]:
        # Unset options are left out rather than sent as null, which some servers refuse.
        options: dict[str, Any] = {}
        if temperature is not None:
            options["temperature"] = temperature
        if max_tokens is not None:
            options[self.max_tokens_param] = max_tokens
        try:
            chunks = await self._client.chat.completions.create(
                messages=to_openai_messages(messages),
                model=model,
                stream=True,
                stream_options={"include_usage": True},
                **options,
            )
        except (openai.OpenAIError, httpx.HTTPError) as exc:
            raise self._error(exc, deltas=None) from self._safe_cause(exc)

        deltas = 0
        usage = Usage()
        finish_reason: str | None = None
        answered_by: str | None = None
        try:
            async for chunk in chunks:
                answered_by = chunk.model or answered_by
                if chunk.usage is not None:
                    u = chunk.usage
                    usage = Usage(u.prompt_tokens, u.completion_tokens, u.total_tokens)
                for choice in chunk.choices or ():
                    if choice.index != 0:
                        continue
                    if choice.delta is not None and choice.delta.content:
                        deltas += 1
                        yield TextDelta(choice.delta.content)
                    if choice.finish_reason is not None:
                        finish_reason = choice.finish_reason
        except (openai.OpenAIError, httpx.HTTPError) as exc:
            raise self._error(exc, deltas=deltas) from self._safe_cause(exc)
        finally:
            # Shielded: a cancelled consumer must still give the connection back.
            with anyio.CancelScope(shield=True):
                await chunks.close()
        if finish_reason is None:
            raise ProviderStreamInterrupted(
                provider=self.name,
                what=f"the stream ended after {deltas} deltas without a finish reason",
            )
        yield StreamDone(usage, finish_reason, answered_by)

    # Errors --------------------------------------------------------------------------------

    def _safe_cause(self, exc: Exception) -> Exception | None:
        """``exc`` to chain as the cause, unless the upstream quoted the key back in it."""
        if self._api_key != NO_KEY:
            body = getattr(exc, "body", None)
            if self._api_key in str(exc) or self._api_key in repr(body):
                return None
        return exc

    def _redact(self, text: str) -> str:
        if self._api_key != NO_KEY:
            text = text.replace(self._api_key, "[redacted]")
        return text[:UPSTREAM_MESSAGE_CHARS]

    def _upstream_message(self, exc: openai.APIStatusError) -> str:
        body = exc.body
        if isinstance(body, dict):
            message = body.get("message") or body.get("error")
            if isinstance(message, str) and message:
                return self._redact(message)
        if isinstance(body, str) and body.strip():
            return self._redact(body.strip())
        return self._redact(exc.message)

    def _error(self, exc: Exception, *, deltas: int | None) -> ProviderError:
        """The ProviderError for an SDK error; ``deltas`` is None before the stream starts."""
        provider = self.name
        during = "" if deltas is None else f" after {deltas} deltas of the reply"
        if isinstance(exc, openai.APITimeoutError | httpx.TimeoutException):
            return ProviderTimeout(
                provider=provider,
                what=f"no answer from {self.base_url} within {self.timeout:g} s{during}",
            )
        if isinstance(exc, openai.APIConnectionError | httpx.TransportError):
            cause = exc.__cause__ if isinstance(exc, openai.APIConnectionError) else exc
            reason = self._redact(f"{type(cause).__name__}: {cause}") if cause else None
            if deltas is None:
                return ProviderUnavailable(
                    provider=provider,
                    what=f"could not reach {self.base_url}",
                    upstream_message=reason,
                )
            return ProviderStreamInterrupted(
                provider=provider, what=f"the connection broke{during}", upstream_message=reason
            )
        if isinstance(exc, openai.APIStatusError):
            return self._status_error(exc)
        if isinstance(exc, openai.APIError):
            # An error event inside a 200 stream: the upstream gave up part way.
            return ProviderStreamInterrupted(
                provider=provider,
                what=f"the upstream reported an error{during}",
                upstream_message=self._redact(exc.message),
            )
        return ProviderError(
            provider=provider,
            what=f"unexpected {type(exc).__name__} from the SDK",
            upstream_message=self._redact(str(exc)),
        )

    def _status_error(self, exc: openai.APIStatusError) -> ProviderError:
        status = exc.status_code
        retry_after = None
        cls: type[ProviderError]
        if status == 429:
            cls, what = ProviderRateLimited, "the upstream is rate limiting requests"
            retry_after = _retry_after(exc.response.headers)
        elif status in (401, 403):
            cls, what = ProviderAuthFailed, "the upstream refused the API key"
        elif status in (408, 504):
            cls, what = ProviderTimeout, "the upstream timed out"
        elif status >= 500:
            cls, what = ProviderUnavailable, "the upstream failed"
        else:
            cls, what = ProviderRejected, "the upstream rejected the request"
        return cls(
            provider=self.name,
            what=what,
            upstream_status=status,
            upstream_message=self._upstream_message(exc),
            retry_after=retry_after,
        )


def _retry_after(headers: Any) -> float | None:
    """Seconds from ``retry-after-ms`` or a numeric ``retry-after`` header, if any."""
    for header, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(header)
        if value is None:
            continue
        try:
            return float(value) * scale
        except ValueError:
            continue
    return None
