"""Threads and their messages: the rules between the HTTP layer and the store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from ..errors import NotFound, ValidationFailed
from ..events import EventHub
from ..ids import new_id
from ..models import (
    TTL_MAX_SECONDS,
    MessageCreate,
    MessageListQuery,
    ThreadCreate,
    ThreadListQuery,
    ThreadUpdate,
)
from ..store import Store
from ..store.base import MessageQuery, PageSlice, ThreadQuery, expiry_of
from ..store.idempotent import replaying
from ..store.rows import MessageRow, ThreadChanges, ThreadRow
from ..timestamps import format_ts, utc_now
from ..validation import check_metadata_filters
from .auth import Principal
from .cursors import Timestamp, decode_cursor, encode_cursor
from .limits import LimitChecker
from .pages import page_of
from .privacy import may_see, shows_private
from .spaces import merge_keys

__all__ = ["ThreadService", "messages_page"]


def _message_cursor(row: MessageRow) -> str:
    return encode_cursor(row["seq"])


def messages_page(rows: list[MessageRow]) -> dict[str, Any]:
    """A complete list of messages (a batch just appended) in the list envelope."""
    return page_of(PageSlice(rows, False), _message_cursor)


def _not_found(thread_id: str) -> NotFound:
    return NotFound(f"thread {thread_id!r} does not exist")


def _message_not_found(thread_id: str, message_id: str) -> NotFound:
    return NotFound(f"message {message_id!r} does not exist in thread {thread_id!r}")


def _check_expiry(expires_at: datetime, loc: tuple[str, ...]) -> None:
    """A new thread's own expiry: after now (else it would be deleted as it is made), and
    no further away than the longest time to live."""
    now = utc_now()
    if expires_at <= now:
        msg = "is not in the future: the thread would be deleted at once"
    elif expires_at - now > timedelta(seconds=TTL_MAX_SECONDS):
        msg = "is more than ten years away, the longest time to live"
    else:
        return
    raise ValidationFailed(
        f"expires_at {format_ts(expires_at)} {msg}",
        errors=[{"loc": ["body", *loc], "msg": msg, "type": "value_error"}],
    )


class ThreadService:
    def __init__(self, store: Store, limits: LimitChecker, events: EventHub | None = None) -> None:
        self.store = store
        self.limits = limits
        self.events = events

    def _publish(self, space_id: str, thread_id: str, type_: str, data: Any) -> None:
        # A replayed create changed nothing: its events were announced the first time.
        if self.events is not None and not replaying():
            self.events.publish(space_id, thread_id, type_, data)

    # threads ----------------------------------------------------------------------------

    def _check_thread(self, body: ThreadCreate, loc: tuple[str, ...] = ()) -> None:
        self.limits.title(body.title, (*loc, "title"))
        self.limits.metadata(body.metadata, (*loc, "metadata"))
        if body.state is not None:
            self.limits.state(body.state, (*loc, "state"))
        if body.expires_at is not None:
            _check_expiry(body.expires_at, (*loc, "expires_at"))

    async def create(
        self,
        principal: Principal,
        space_id: str,
        body: ThreadCreate,
        messages: Sequence[MessageCreate] = (),
        *,
        loc: tuple[str, ...] = (),
        message_loc: tuple[str, ...] = ("message",),
    ) -> tuple[ThreadRow, list[MessageRow]]:
        """A new thread (its fields' errors located under ``loc``) with ``messages`` (one
        located at ``message_loc``; several at ``messages.N``)."""
        principal.require_writer(space_id)
        self._check_thread(body, loc)
        for index, message in enumerate(messages):
            self.limits.message(message, message_loc if len(messages) == 1 else ("messages", index))
        thread_id = body.id or new_id("thr")
        thread, rows = await self.store.create_thread(space_id, thread_id, body, messages)
        self._publish(space_id, thread_id, "thread.created", thread)
        for row in rows:
            self._publish(space_id, thread_id, "message.created", row)
        return thread, rows

    async def get(self, principal: Principal, space_id: str, thread_id: str) -> ThreadRow:
        principal.require_space(space_id)
        row = await self.store.get_thread(space_id, thread_id)
        if row is None:
            raise _not_found(thread_id)
        return row

    async def list_threads(
        self, principal: Principal, space_id: str, params: ThreadListQuery
    ) -> dict[str, Any]:
        principal.require_space(space_id)
        check_metadata_filters(params.metadata)
        after = before = None
        if params.after:
            after = tuple(decode_cursor(params.after, "after", (Timestamp, str)))
        if params.before:
            before = tuple(decode_cursor(params.before, "before", (Timestamp, str)))
        query = ThreadQuery(
            limit=params.limit,
            status=params.status,
            owner_id=params.owner_id,
            title=params.title,
            public=params.public,
            metadata=params.metadata,
            q=params.q,
            order_by=params.order_by,
            order=params.order,
            after=after,
            before=before,
        )
        page = await self.store.list_threads(space_id, query)
        column = params.order_by
        return page_of(page, lambda row: encode_cursor(row[column], row["id"]))

    async def update(
        self, principal: Principal, space_id: str, thread_id: str, body: ThreadUpdate
    ) -> ThreadRow:
        principal.require_writer(space_id)
        self.limits.title(body.title)

        def mutate(thread: ThreadRow) -> ThreadChanges:
            changes: ThreadChanges = {}
            given = body.model_fields_set
            if "title" in given and body.title != thread["title"]:
                changes["title"] = body.title
            if "public" in given and body.public != thread["public"] and body.public is not None:
                changes["public"] = body.public
            if "owner_id" in given and body.owner_id != thread["owner_id"]:
                changes["owner_id"] = body.owner_id
            if body.status is not None and body.status != thread["status"]:
                changes["status"] = body.status
                archived = body.status == "archived"
                changes["archived_at"] = format_ts(utc_now()) if archived else None
            if body.metadata is not None:
                changes["metadata"] = merge_keys(thread["metadata"], body.metadata)
                self.limits.metadata(changes["metadata"])
            if body.role_mapping is not None:
                patch = {
                    name: role.model_dump() if role is not None else None
                    for name, role in body.role_mapping.items()
                }
                changes["role_mapping"] = merge_keys(thread["role_mapping"], patch)
            if "ttl_seconds" in body.model_fields_set:
                # Counted from now; null: the thread no longer expires.
                expiry = expiry_of(utc_now(), body.ttl_seconds)
                expires_at = format_ts(expiry) if expiry is not None else None
                if expires_at != thread["expires_at"]:
                    changes["expires_at"] = expires_at
            return changes

        row = await self.store.update_thread(space_id, thread_id, mutate)
        if row is None:
            raise _not_found(thread_id)
        self._publish(space_id, thread_id, "thread.updated", row)
        return row

    async def set_status(
        self, principal: Principal, space_id: str, thread_id: str, archived: bool
    ) -> ThreadRow:
        status: Literal["active", "archived"] = "archived" if archived else "active"
        return await self.update(principal, space_id, thread_id, ThreadUpdate(status=status))

    async def purge(self, principal: Principal, space_id: str, thread_id: str) -> None:
        principal.require_writer(space_id)
        if not await self.store.purge_thread(space_id, thread_id):
            raise _not_found(thread_id)
        self._publish(space_id, thread_id, "thread.deleted", {"id": thread_id})

    # messages ---------------------------------------------------------------------------

    async def append(
        self,
        principal: Principal,
        space_id: str,
        thread_id: str,
        messages: Sequence[MessageCreate],
        *,
        loc: tuple[str, ...] = (),
    ) -> list[MessageRow]:
        principal.require_writer(space_id)
        if len(messages) == 1:
            self.limits.message(messages[0], loc)
        else:
            self.limits.messages(messages, ("messages",))
        rows = await self.store.append_messages(space_id, thread_id, messages)
        for row in rows:
            self._publish(space_id, thread_id, "message.created", row)
        return rows

    async def list_messages(
        self, principal: Principal, space_id: str, thread_id: str, params: MessageListQuery
    ) -> dict[str, Any]:
        principal.require_space(space_id)
        query = MessageQuery(
            limit=params.limit,
            order=params.order,
            after_seq=decode_cursor(params.after, "after", (int,))[0] if params.after else None,
            before_seq=(
                decode_cursor(params.before, "before", (int,))[0] if params.before else None
            ),
            include_private=shows_private(principal, params.include_private),
            role=params.role,
        )
        page = await self.store.list_messages(space_id, thread_id, query)
        if page is None:
            raise _not_found(thread_id)
        return page_of(page, _message_cursor)

    async def get_message(
        self, principal: Principal, space_id: str, thread_id: str, message_id: str
    ) -> MessageRow:
        """One message; a private one is missing to a caller who may not see it."""
        principal.require_space(space_id)
        row = await self.store.get_message(space_id, thread_id, message_id)
        if row is None or not may_see(principal, row):
            raise _message_not_found(thread_id, message_id)
        return row

    async def delete_message(
        self, principal: Principal, space_id: str, thread_id: str, message_id: str
    ) -> dict[str, Any]:
        """Delete one message: the thread counts one fewer, and its seq is never reused
        (the messages after it keep theirs)."""
        principal.require_writer(space_id)
        row = await self.store.delete_message(space_id, thread_id, message_id)
        if row is None:
            raise _message_not_found(thread_id, message_id)
        self._publish(
            space_id,
            thread_id,
            "message.deleted",
            {
                "object": "message.deleted",
                "id": row["id"],
                "thread_id": thread_id,
                "seq": row["seq"],
                "private": row["private"],  # what privacy decides who is told
                "deleted": True,
            },
        )
        return {"object": "message.deleted", "id": row["id"], "deleted": True}
