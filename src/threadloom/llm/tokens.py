"""Token counts, estimated without a tokenizer, and fitting a conversation into a budget.

No tokenizer is used on purpose: tokenizers such as ``tiktoken`` download their vocabularies
on first use, and each model family splits text differently anyway. The estimate is the
usual rule of thumb for English text with GPT-style tokenizers, rounded up so that a prompt
cut to a budget rarely overflows the real context window:

- text: ``ceil(characters / 4)`` tokens;
- every message: 4 tokens more, for its role and the separators around it
  (the figure OpenAI documents for its chat format);
- every image: 765 tokens, what OpenAI charges for a 1024x1024 image in high detail;
- the prompt as a whole: 3 tokens more, which prime the reply.

Pass a ``counter`` of your own to :func:`fit_newest` to count with a real tokenizer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from .base import ChatMessage

__all__ = [
    "CHARS_PER_TOKEN",
    "IMAGE_TOKENS",
    "MESSAGE_OVERHEAD_TOKENS",
    "REPLY_PRIMING_TOKENS",
    "count_message_tokens",
    "count_prompt_tokens",
    "count_text_tokens",
    "fit_newest",
]

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD_TOKENS = 4
IMAGE_TOKENS = 765
REPLY_PRIMING_TOKENS = 3

TokenCounter = Callable[[ChatMessage], int]


def count_text_tokens(text: str) -> int:
    """The estimated tokens of a piece of text: ``ceil(len(text) / 4)``."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def count_message_tokens(message: ChatMessage) -> int:
    """The estimated tokens one message takes in a prompt, overhead and images included."""
    tokens = MESSAGE_OVERHEAD_TOKENS + count_text_tokens(message.content)
    if message.name:
        tokens += count_text_tokens(message.name)
    if message.tool_call_id:
        tokens += count_text_tokens(message.tool_call_id)
    for call in message.tool_calls:
        tokens += count_text_tokens(call.id) + count_text_tokens(call.name)
        tokens += count_text_tokens(call.arguments)
    return tokens + IMAGE_TOKENS * len(message.images)


def count_prompt_tokens(
    messages: Sequence[ChatMessage], *, counter: TokenCounter = count_message_tokens
) -> int:
    """The estimated prompt tokens of a whole conversation, as a model would be sent it."""
    return REPLY_PRIMING_TOKENS + sum(counter(message) for message in messages)


def fit_newest(
    messages: Sequence[ChatMessage],
    budget: int,
    *,
    system: ChatMessage | None = None,
    counter: TokenCounter = count_message_tokens,
) -> list[ChatMessage]:
    """The newest messages that fit in ``budget`` tokens, oldest first, after ``system``.

    ``messages`` is oldest first. The system message is always included, even when it alone
    is over the budget; then whole messages are taken from the newest backwards until the
    next one would not fit, so the result is always an unbroken tail of the conversation;
    it never begins with tool results whose call did not fit (a model refuses a result
    without its call), so a call and its results are kept or left out together.
    Leave room for the reply: pass the context window minus ``max_tokens`` as the budget.
    Only the messages kept are counted, so a long history costs no more than a short one.
    """
    remaining = budget - REPLY_PRIMING_TOKENS
    head: list[ChatMessage] = []
    if system is not None:
        head.append(system)
        remaining -= counter(system)
    tail: list[ChatMessage] = []
    for message in reversed(messages):
        cost = counter(message)
        if cost > remaining:
            break
        tail.append(message)
        remaining -= cost
    while tail and tail[-1].role == "tool" and len(tail) < len(messages):
        tail.pop()  # the oldest kept is a result whose call was cut off
    tail.reverse()
    return head + tail
