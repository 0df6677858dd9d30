"""The offline provider: no network, no key, the same reply for the same conversation.

It is what threadloom uses when no model is configured, and the fake that tests and demos
rely on. The reply says what it is and quotes the last user message::

    offline assistant: you said "What is the capital of France?" (2 messages seen; no
    language model is configured, so this reply was made up locally)

It streams word by word like a real model, counts usage with the estimate of
:mod:`threadloom.llm.tokens`, and stops at ``max_tokens`` with finish reason ``"length"``
(cutting the last word, so that the reply uses exactly ``max_tokens`` tokens).
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Sequence

import anyio.lowlevel

from .base import ChatMessage, StreamDone, StreamEvent, TextDelta, Usage
from .tokens import CHARS_PER_TOKEN, count_prompt_tokens, count_text_tokens

__all__ = ["OfflineProvider", "offline_reply"]

QUOTE_CHARS = 200
_WORDS = re.compile(r"\S+\s*")


def _quote(text: str) -> str:
    said = " ".join(text.split())
    if len(said) > QUOTE_CHARS:
        said = said[: QUOTE_CHARS - 1].rstrip() + "…"
    return said


def offline_reply(messages: Sequence[ChatMessage]) -> str:
    """The whole reply the offline provider gives to ``messages``."""
    seen = f"{len(messages)} message{'' if len(messages) == 1 else 's'} seen"
    last_user = next((m for m in reversed(messages) if m.role == "user"), None)
    if last_user is None:
        opening = "there is no user message to answer"
    else:
        opening = f'you said "{_quote(last_user.content)}"'
        if last_user.images:
            count = len(last_user.images)
            opening += f" with {count} image{'' if count == 1 else 's'}"
    return (
        f"offline assistant: {opening} ({seen}; no language model is configured, "
        "so this reply was made up locally)"
    )


class OfflineProvider:
    """A deterministic stand-in for a chat model; ``model`` and ``temperature`` are ignored."""

    name = "offline"

    def __repr__(self) -> str:
        return "OfflineProvider()"

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        model: str,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> AsyncGenerator[StreamEvent, None]:
        del temperature  # the reply is deterministic
        sent = ""
        finish_reason = "stop"
        for word in _WORDS.findall(offline_reply(messages)):
            if max_tokens is not None and count_text_tokens(sent + word) > max_tokens:
                # Cut inside the word, as a model does, so the reply uses the whole budget.
                word = word[: max(0, max_tokens * CHARS_PER_TOKEN - len(sent))]
                finish_reason = "length"
            if word:
                # A checkpoint per word, so a consumer can cancel as with a real stream.
                await anyio.lowlevel.checkpoint()
                sent += word
                yield TextDelta(word)
            if finish_reason == "length":
                break
        prompt_tokens = count_prompt_tokens(messages)
        completion_tokens = count_text_tokens(sent)
        usage = Usage(prompt_tokens, completion_tokens, prompt_tokens + completion_tokens)
        yield StreamDone(usage, finish_reason, model)

    async def aclose(self) -> None:
        """Nothing to release."""
