"""Messages of a thread: ``client.messages``."""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from ...models import Message, MessageCreate, MessageDeleted, Page, ToolCall
from ..calls import (
    Call,
    Endpoint,
    JSONMapping,
    Order,
    Pages,
    decode,
    encode,
    given,
    idempotency,
    query,
    thread_path,
)

__all__ = ["MessageEndpoints", "NewMessage"]

Messages = list[Message]
NewMessage = MessageCreate | JSONMapping


def _messages_page(response: httpx.Response) -> Messages:
    return decode(Page[Message])(response).data


class MessageEndpoints:
    """Messages of a thread. Each has a gapless ``seq`` in its thread."""

    @Endpoint
    def create(
        self,
        space: str,
        thread: str,
        content: str = "",
        *,
        role: str = "user",
        images: Sequence[str] | None = None,
        private: bool = False,
        metadata: JSONMapping | None = None,
        id: str | None = None,
        tool_calls: Sequence[ToolCall | JSONMapping] | None = None,
        tool_call_id: str | None = None,
        name: str | None = None,
        idempotency_key: str | None = None,
    ) -> Call[Message]:
        """Append a message. ``images`` are http(s) or ``data:`` URLs; a ``private``
        message is never shown to reader keys; ``id`` is chosen by the caller (unique in
        the thread) or generated. An assistant message may make ``tool_calls`` (in the
        chat-completions shape), a ``tool`` message answers a ``tool_call_id``; ``name``
        names who wrote it."""
        body = given(
            {
                "id": id,
                "role": role,
                "content": content,
                "images": images,
                "private": private,
                "metadata": metadata,
                "tool_calls": tool_calls,
                "tool_call_id": tool_call_id,
                "name": name,
            }
        )
        return Call(
            "POST",
            thread_path(space, thread, "messages"),
            decode(Message),
            content=encode(body),
            headers=idempotency(idempotency_key),
        )

    @Endpoint
    def create_batch(
        self,
        space: str,
        thread: str,
        messages: Sequence[NewMessage],
        *,
        idempotency_key: str | None = None,
    ) -> Call[Messages]:
        """Append up to 100 messages in one transaction (all or none); returns them in
        order. Each is a ``MessageCreate`` or a mapping of its fields."""
        return Call(
            "POST",
            thread_path(space, thread, "messages", "batch"),
            _messages_page,
            content=encode({"messages": messages}),
            headers=idempotency(idempotency_key),
        )

    @Endpoint
    def list(
        self,
        space: str,
        thread: str,
        *,
        order: Order | None = None,
        limit: int | None = None,
        after: str | None = None,
        before: str | None = None,
        include_private: bool | None = None,
        role: str | None = None,
    ) -> Call[Page[Message]]:
        """A page of a thread's messages, oldest first (``order="desc"``: newest first).
        ``include_private``: private messages too (not for reader keys); ``role``: only
        messages of this role."""
        params = query(
            order=order,
            limit=limit,
            after=after,
            before=before,
            include_private=include_private,
            role=role,
        )
        return Call(
            "GET", thread_path(space, thread, "messages"), decode(Page[Message]), params=params
        )

    iter = Pages(list)

    @Endpoint
    def get(self, space: str, thread: str, message: str) -> Call[Message]:
        """One message by its id (a private one is missing to a reader key)."""
        return Call("GET", thread_path(space, thread, "messages", message), decode(Message))

    @Endpoint
    def delete(self, space: str, thread: str, message: str) -> Call[MessageDeleted]:
        """Delete one message; the others keep their ``seq`` and its number is not reused."""
        return Call(
            "DELETE", thread_path(space, thread, "messages", message), decode(MessageDeleted)
        )
