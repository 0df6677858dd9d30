"""Threads of a space: ``client.threads``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal, TypedDict, Unpack

from ...models import Page, Role, Thread, ThreadStatus, ThreadWithMessage
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
    metadata_filter,
    no_content,
    path,
    query,
    thread_path,
)
from .messages import NewMessage

__all__ = ["ThreadChanges", "ThreadEndpoints", "ThreadFields"]


class ThreadFields(TypedDict, total=False):
    """The fields of a new thread (``threadloom.models.ThreadCreate``); None means unset.
    ``ttl_seconds``: the thread, its messages and state are deleted this many seconds after
    it is created (unset: the space's ``default_thread_ttl_seconds``, if any); or
    ``expires_at``: the instant they are deleted (a datetime with a time zone, or RFC 3339
    text with an offset), not both."""

    id: str | None
    title: str | None
    owner_id: str | None
    public: bool
    metadata: JSONMapping | None
    state: Any
    role_mapping: Mapping[str, Role | JSONMapping] | None
    ttl_seconds: int | None
    expires_at: datetime | str | None


class ThreadChanges(TypedDict, total=False):
    """What ``threads.update`` changes (``threadloom.models.ThreadUpdate``): only the fields
    given. ``title=None`` or ``owner_id=None`` clears them; ``metadata`` and ``role_mapping``
    are merged key by key, and a key set to None is removed. ``ttl_seconds=N`` makes the
    thread expire N seconds from now, ``ttl_seconds=None`` keeps it for good."""

    title: str | None
    status: ThreadStatus
    public: bool
    owner_id: str | None
    metadata: Mapping[str, Any | None]
    role_mapping: Mapping[str, Role | JSONMapping | None]
    ttl_seconds: int | None


class ThreadEndpoints:
    """Threads of a space."""

    @Endpoint
    def create(
        self, space: str, *, idempotency_key: str | None = None, **thread: Unpack[ThreadFields]
    ) -> Call[Thread]:
        """Create a thread: ``create("default", id="support-42", title="Support chat")``."""
        return Call(
            "POST",
            path("v1", "spaces", space, "threads"),
            decode(Thread),
            content=encode(given(thread)),
            headers=idempotency(idempotency_key),
        )

    @Endpoint
    def create_with_message(
        self,
        space: str,
        message: str | NewMessage,
        *,
        idempotency_key: str | None = None,
        **thread: Unpack[ThreadFields],
    ) -> Call[ThreadWithMessage]:
        """Create a thread and its first message atomically. ``message`` is a
        ``MessageCreate``, a mapping of its fields, or a string: a user message."""
        first = {"content": message} if isinstance(message, str) else message
        return Call(
            "POST",
            path("v1", "spaces", space, "threads", "messages"),
            decode(ThreadWithMessage),
            content=encode({"thread": given(thread), "message": first}),
            headers=idempotency(idempotency_key),
        )

    @Endpoint
    def list(
        self,
        space: str,
        *,
        status: Literal["active", "archived", "all"] | None = None,
        owner_id: str | None = None,
        title: str | None = None,
        public: bool | None = None,
        metadata: Mapping[str, str | int | float | bool] | None = None,
        q: str | None = None,
        order_by: Literal["updated_at", "created_at"] | None = None,
        order: Order | None = None,
        limit: int | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> Call[Page[Thread]]:
        """A page of the space's threads: active ones (``status``: ``archived``, ``all``),
        most recently updated first (``order_by="created_at"`` for a fixed order). Filters:
        ``owner_id``; ``title``, the exact title; ``public``; ``metadata``, threads whose
        metadata has each key with this value (compared as text); ``q``, a substring of the
        title."""
        params = query(
            status=status,
            owner_id=owner_id,
            title=title,
            public=public,
            q=q,
            order_by=order_by,
            order=order,
            limit=limit,
            after=after,
            before=before,
        )
        return Call(
            "GET",
            path("v1", "spaces", space, "threads"),
            decode(Page[Thread]),
            params=params + metadata_filter(metadata),
        )

    iter = Pages(list)

    @Endpoint
    def get(self, space: str, thread: str) -> Call[Thread]:
        """One thread (archived ones too)."""
        return Call("GET", thread_path(space, thread), decode(Thread))

    @Endpoint
    def update(self, space: str, thread: str, **changes: Unpack[ThreadChanges]) -> Call[Thread]:
        """Change a thread's fields (see ``ThreadChanges``). Setting the same fields again
        has no further effect, so it is retried like a PUT."""
        return Call("PATCH", thread_path(space, thread), decode(Thread), content=encode(changes))

    @Endpoint
    def archive(self, space: str, thread: str) -> Call[Thread]:
        """Archive a thread: it leaves the default listing and refuses writes until restored."""
        return Call("DELETE", thread_path(space, thread), decode(Thread))

    @Endpoint
    def restore(self, space: str, thread: str) -> Call[Thread]:
        """Un-archive a thread."""
        return Call("POST", thread_path(space, thread, "restore"), decode(Thread))

    @Endpoint
    def purge(self, space: str, thread: str) -> Call[None]:
        """Delete a thread and all its messages for good. Retried after a lost answer, a
        purge that got through answers ``NotFound``."""
        params = query(purge=True)
        return Call("DELETE", thread_path(space, thread), no_content, params=params)
