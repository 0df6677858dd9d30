"""The token estimate and fitting the newest messages of a conversation into a budget."""

from __future__ import annotations

from collections.abc import Sequence
from typing import overload

import pytest

from threadloom.llm import ChatMessage, count_message_tokens, count_prompt_tokens, fit_newest
from threadloom.llm.tokens import IMAGE_TOKENS, count_text_tokens


@pytest.mark.parametrize(("text", "tokens"), [("", 0), ("a", 1), ("abcd", 1), ("abcde", 2)])
def test_text_is_a_quarter_of_its_characters_rounded_up(text: str, tokens: int) -> None:
    assert count_text_tokens(text) == tokens


def test_message_tokens_add_overhead_name_and_images() -> None:
    assert count_message_tokens(ChatMessage("user", "x" * 40)) == 4 + 10
    assert count_message_tokens(ChatMessage("user", "x" * 40, name="ada")) == 4 + 10 + 1
    with_images = ChatMessage("user", "x" * 40, images=["https://x.test/a.png"] * 2)
    assert count_message_tokens(with_images) == 4 + 10 + 2 * IMAGE_TOKENS == 1544
    assert count_prompt_tokens([ChatMessage("user", "x" * 40)] * 3) == 3 + 3 * 14


def numbered(count: int) -> list[ChatMessage]:
    """Messages of 14 tokens each: 40 characters and the overhead of 4."""
    return [
        ChatMessage("user" if i % 2 == 0 else "assistant", f"message {i:>31}") for i in range(count)
    ]


class LazyConversation(Sequence[ChatMessage]):
    """A conversation too long to hold, made on demand; counts the messages read."""

    def __init__(self, length: int) -> None:
        self.length = length
        self.reads = 0

    def __len__(self) -> int:
        return self.length

    @overload
    def __getitem__(self, index: int) -> ChatMessage: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[ChatMessage]: ...
    def __getitem__(self, index: int | slice) -> ChatMessage | Sequence[ChatMessage]:
        if isinstance(index, slice):
            raise NotImplementedError
        if not 0 <= index < self.length:
            raise IndexError(index)
        self.reads += 1
        return ChatMessage("user", f"message {index:>31}")


class TestFitNewest:
    def test_a_long_conversation_keeps_only_its_tail_and_the_system(self) -> None:
        messages = numbered(100_000)
        system = ChatMessage("system", "s" * 400)  # 104 tokens
        kept = fit_newest(messages, 1000, system=system)
        # 1000 - 3 (reply priming) - 104 (system) leaves room for 63 messages of 14 tokens.
        assert kept[0] is system
        assert kept[1:] == messages[-63:]
        assert count_prompt_tokens(kept) <= 1000 < count_prompt_tokens(kept + messages[:1])

    def test_only_the_newest_messages_are_read(self) -> None:
        conversation = LazyConversation(10**9)
        kept = fit_newest(conversation, 3 + 10 * 14)
        assert kept == [conversation[i] for i in range(10**9 - 10, 10**9)]
        # The ten kept and the one that did not fit, read once each (plus the check above).
        assert conversation.reads == 11 + 10

    def test_system_is_kept_even_over_budget(self) -> None:
        system = ChatMessage("system", "s" * 4000)
        assert fit_newest(numbered(10), 50, system=system) == [system]

    def test_whole_messages_only_and_never_a_gap(self) -> None:
        older = numbered(5)
        huge = ChatMessage("user", "h" * 10_000)
        newest = ChatMessage("assistant", "ok")
        # The huge message does not fit: everything before it goes too, though it would fit.
        assert fit_newest([*older, huge, newest], 500) == [newest]

    def test_everything_fits(self) -> None:
        messages = numbered(5)
        system = ChatMessage("system", "Be brief.")
        assert fit_newest(messages, 10_000, system=system) == [system, *messages]
        assert fit_newest(messages, 10_000) == messages
        assert fit_newest([], 10) == []

    def test_nothing_fits(self) -> None:
        assert fit_newest(numbered(5), 3) == []
        assert fit_newest(numbered(5), 0) == []
