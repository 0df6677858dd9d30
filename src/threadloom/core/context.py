"""What a model is sent: the assistant's system prompt and the newest messages that fit.

The thread is read backwards a page at a time and reading stops as soon as the budget is
spent, so a thread of a million messages costs what its tail costs. Tokens are counted with
the documented estimate of :mod:`threadloom.llm.tokens` (no tokenizer ships offline).

Roles: ``user``, ``assistant`` and ``system`` messages go as they are (with their
``name``), an assistant's ``tool_calls`` with it, and a ``tool`` message that answers a
``tool_call_id`` as that call's result; any other role (a ``tool`` message without a call id,
a second participant) goes as a user message whose ``name`` is the role. Images travel only
on user messages. A call and its results are kept or left out together at the budget's edge
(``fit_newest``). Private messages are part of the conversation and are
sent too: privacy hides them from read-only keys, not from the thread's own assistant. What
a *caller* is shown of a context (``as_wire``) leaves them out when :mod:`.privacy` says so,
and then counts the tokens of what it shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, cast

from ..llm.base import ChatMessage, ChatRole, ToolCall
from ..llm.tokens import count_message_tokens, count_prompt_tokens, fit_newest
from ..models.items import MODEL_ITEM_TYPES
from ..store import Store
from ..store.base import MessageQuery
from ..store.rows import MessageRow

__all__ = ["ChatContext", "build_context", "chat_message_of"]

PAGE_SIZE = 100
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True, slots=True)
class ChatContext:
    system: ChatMessage | None
    conversation: list[ChatMessage]
    """The newest messages that fit, oldest first."""
    message_ids: list[str]
    """The thread's ids of ``conversation``."""
    private: list[bool]
    """Which of ``conversation`` are private messages."""
    budget: int
    tokens: int
    truncated: bool
    """Older messages exist that did not fit."""

    @property
    def messages(self) -> list[ChatMessage]:
        """What the model is sent."""
        return [self.system, *self.conversation] if self.system else list(self.conversation)

    def as_wire(self, assistant_id: str, *, include_private: bool) -> dict[str, Any]:
        """The context as a caller is shown it: without the private messages unless
        ``include_private`` (then ``tokens`` counts what is shown, so it gives away nothing
        of what is left out)."""
        entries: list[tuple[str | None, ChatMessage]] = []
        if self.system is not None:
            entries.append((None, self.system))
        entries.extend(
            (message_id, message)
            for message_id, message, private in zip(
                self.message_ids, self.conversation, self.private, strict=True
            )
            if include_private or not private
        )
        shown = len(entries) == len(self.messages)
        return {
            "object": "thread.context",
            "assistant": assistant_id,
            "max_tokens": self.budget,
            "tokens": self.tokens if shown else count_prompt_tokens([m for _, m in entries]),
            "truncated": self.truncated,
            "messages": [_wire_message(message_id, message) for message_id, message in entries],
        }


def _wire_message(message_id: str | None, message: ChatMessage) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "id": message_id,
        "role": message.role,
        "name": message.name,
        "content": message.content,
        "images": list(message.images),
    }
    if message.tool_calls:
        wire["tool_calls"] = [call.as_chat_completions() for call in message.tool_calls]
    if message.tool_call_id is not None:
        wire["tool_call_id"] = message.tool_call_id
    return wire


def _for_the_model(row: MessageRow) -> bool:
    """A provider item a model does not take (reasoning, a built-in tool's call...) is left
    out of what it is sent."""
    item = row.get("item")
    return item is None or item.get("type") in MODEL_ITEM_TYPES


def chat_message_of(row: MessageRow) -> ChatMessage:
    role = row["role"]
    name = row.get("name")
    if role in ("user", "assistant", "system"):
        images = row["images"] if role == "user" else ()
        calls = [
            ToolCall(call["id"], call["function"]["name"], call["function"]["arguments"])
            for call in row.get("tool_calls", ())
        ]
        return ChatMessage(
            cast(ChatRole, role), row["content"], name=name, images=images, tool_calls=calls
        )
    call_id = row.get("tool_call_id")
    if role == "tool" and call_id is not None:
        return ChatMessage("tool", row["content"], tool_call_id=call_id)
    name = _NAME_CHARS.sub("_", role)[:64]
    return ChatMessage("user", row["content"], name=name, images=row["images"])


async def build_context(
    store: Store, space_id: str, thread_id: str, system_prompt: str | None, budget: int
) -> ChatContext | None:
    """``None`` when the thread does not exist."""
    system = ChatMessage("system", system_prompt) if system_prompt else None
    remaining = budget - count_prompt_tokens([system] if system else [])
    rows: list[MessageRow] = []  # newest first
    older_than: int | None = None
    exhausted = False
    while True:
        # Newest first: "after" a seq in descending order means older than it.
        query = MessageQuery(
            limit=PAGE_SIZE, order="desc", after_seq=older_than, include_private=True
        )
        page = await store.list_messages(space_id, thread_id, query)
        if page is None:
            return None
        for row in page.rows:
            if not _for_the_model(row):
                continue
            rows.append(row)
            remaining -= count_message_tokens(chat_message_of(row))
            if remaining < 0:
                break
        if remaining < 0:
            break
        if not page.has_more:
            exhausted = True
            break
        older_than = page.rows[-1]["seq"]
    rows.reverse()
    fitted = fit_newest([chat_message_of(row) for row in rows], budget, system=system)
    conversation = fitted[1:] if system else fitted
    kept_rows = rows[len(rows) - len(conversation) :]
    return ChatContext(
        system=system,
        conversation=conversation,
        message_ids=[row["id"] for row in kept_rows],
        private=[row["private"] for row in kept_rows],
        budget=budget,
        tokens=count_prompt_tokens(fitted),
        truncated=not exhausted or len(conversation) < len(rows),
    )
