"""The offline provider: deterministic, streamed word by word, usage from the estimate."""

from __future__ import annotations

import pytest

from threadloom.llm import (
    ChatMessage,
    LLMProvider,
    OfflineProvider,
    StreamDone,
    TextDelta,
    Usage,
    complete,
    count_prompt_tokens,
    count_text_tokens,
)
from threadloom.llm.offline import offline_reply

pytestmark = pytest.mark.anyio

CONVERSATION = [
    ChatMessage("system", "You are terse."),
    ChatMessage("user", "Hello"),
    ChatMessage("assistant", "Hi."),
    ChatMessage("user", "  What is the capital\n of France?  "),
]


async def test_reply_quotes_the_last_user_message_and_counts_messages() -> None:
    reply = await complete(OfflineProvider(), CONVERSATION, model="offline")
    assert reply.text == (
        'offline assistant: you said "What is the capital of France?" (4 messages seen; '
        "no language model is configured, so this reply was made up locally)"
    )
    assert reply.finish_reason == "stop"
    assert reply.model == "offline"


async def test_is_deterministic() -> None:
    first = await complete(OfflineProvider(), CONVERSATION, model="m", temperature=1.5)
    second = await complete(OfflineProvider(), CONVERSATION, model="m", temperature=0.0)
    assert first == second


async def test_streams_word_sized_deltas_then_usage() -> None:
    events = [e async for e in OfflineProvider().stream(CONVERSATION, model="offline")]
    deltas = [e.text for e in events[:-1] if isinstance(e, TextDelta)]
    assert len(deltas) == len(events) - 1 > 10
    assert all(len(delta.split()) == 1 for delta in deltas)
    assert deltas[:3] == ["offline ", "assistant: ", "you "]
    text = "".join(deltas)
    assert text == offline_reply(CONVERSATION)
    prompt = count_prompt_tokens(CONVERSATION)
    completion = count_text_tokens(text)
    assert events[-1] == StreamDone(
        Usage(prompt, completion, prompt + completion), "stop", "offline"
    )


@pytest.mark.parametrize("max_tokens", [1, 5, 12])
async def test_max_tokens_truncates_with_finish_reason_length(max_tokens: int) -> None:
    reply = await complete(OfflineProvider(), CONVERSATION, model="offline", max_tokens=max_tokens)
    assert reply.finish_reason == "length"
    assert offline_reply(CONVERSATION).startswith(reply.text)
    assert len(reply.text) == 4 * max_tokens  # cut inside a word to use the whole budget
    assert reply.usage.completion_tokens == count_text_tokens(reply.text) == max_tokens


async def test_max_tokens_zero_gives_nothing() -> None:
    events = [e async for e in OfflineProvider().stream(CONVERSATION, model="o", max_tokens=0)]
    assert len(events) == 1
    assert isinstance(events[0], StreamDone)
    assert events[0].finish_reason == "length"
    assert events[0].usage.completion_tokens == 0


async def test_max_tokens_one_gives_one_token() -> None:
    deltas = [e async for e in OfflineProvider().stream(CONVERSATION, model="o", max_tokens=1)]
    assert deltas[0] == TextDelta("offl")
    assert len(deltas) == 2


async def test_a_large_max_tokens_changes_nothing() -> None:
    full = await complete(OfflineProvider(), CONVERSATION, model="offline")
    roomy = await complete(OfflineProvider(), CONVERSATION, model="offline", max_tokens=10_000)
    assert roomy == full


def test_long_messages_are_trimmed() -> None:
    reply = offline_reply([ChatMessage("user", "word " * 500)])
    quoted = reply.split('"')[1]
    assert len(quoted) == 200
    assert quoted.endswith("…")
    assert "(1 message seen;" in reply


def test_no_user_message_and_images() -> None:
    assert offline_reply([]).startswith(
        "offline assistant: there is no user message to answer (0 messages seen;"
    )
    with_images = [ChatMessage("user", "Look", images=["https://x.test/a.png"] * 2)]
    assert 'you said "Look" with 2 images' in offline_reply(with_images)


async def test_is_an_llm_provider() -> None:
    provider = OfflineProvider()
    assert isinstance(provider, LLMProvider)
    assert provider.name == "offline"
    await provider.aclose()
