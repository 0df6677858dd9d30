"""The original threadmem library's view of threads (``RoleThread``/``RoleMessage``).

A V1 thread is a threadloom thread: ``name`` is the title, a message's ``text`` its content,
``created``/``updated`` the RFC 3339 timestamps as unix seconds, and ``role_mapping`` the
thread's role mapping. The original ``version`` was a hash of the whole thread; here it is a
hash of what changes whenever the thread does (its message count and ``updated_at``), so it
costs nothing to compute and still differs after every change.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any, Literal

from pydantic import ValidationError

from .._threadmem.schemas import (
    V1CreateRoleThread,
    V1PostRoleMessage,
    V1Role,
    V1RoleThreadFilter,
    V1UpdateRoleThread,
)
from ..errors import AlreadyExists, Conflict, NotFound, ValidationFailed
from ..ids import is_valid_id
from ..models import MessageCreate, MessageListQuery, Role, ThreadCreate, ThreadListQuery
from ..store.rows import MessageRow, ThreadChanges, ThreadRow
from ..timestamps import parse_ts
from .auth import Principal
from .privacy import shows_private
from .threads import ThreadService

__all__ = ["RoleThreadService", "message_v1", "thread_v1", "version_of"]

PAGE_SIZE = 100
_ROLE_TEXT_FIELDS = ("user_id", "user_name", "icon")


def _seconds(timestamp: str) -> float:
    return parse_ts(timestamp).timestamp()


def version_of(thread: ThreadRow) -> str:
    """Changes whenever the thread does: every write moves ``updated_at``. The same basis as
    ``RoleThread.generate_version_hash`` in the library."""
    basis = (
        f"{thread['id']}\n{thread['message_count']}\n{thread['updated_at']}"
        f"\n{thread['state_version']}"
    )
    return hashlib.sha256(basis.encode()).hexdigest()


def _role_v1(role: dict[str, Any]) -> dict[str, Any]:
    # The original requires user_id, user_name and icon; roles set through threadloom's own
    # API may lack them, so they read as empty strings.
    v1 = {field: role.get(field) or "" for field in _ROLE_TEXT_FIELDS}
    return {"name": role.get("name") or "", **v1, "description": role.get("description")}


def message_v1(message: MessageRow) -> dict[str, Any]:
    return {
        "id": message["id"],
        "role": message["role"],
        "text": message["content"],
        "images": message["images"],
        "private": message["private"],
        "metadata": message["metadata"],
        "created": _seconds(message["created_at"]),
        "thread_id": message["thread_id"],
    }


def thread_v1(thread: ThreadRow, messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "owner_id": thread["owner_id"],
        "public": thread["public"],
        "name": thread["title"],
        "metadata": thread["metadata"],
        "id": thread["id"],
        "messages": messages,
        "role_mapping": {name: _role_v1(role) for name, role in thread["role_mapping"].items()},
        "version": version_of(thread),
        "created": _seconds(thread["created_at"]),
        "updated": _seconds(thread["updated_at"]),
        "remote": None,
    }


_SORTS: dict[str, tuple[Literal["created_at", "updated_at"], Literal["asc", "desc"]]] = {
    "created_asc": ("created_at", "asc"),
    "created_desc": ("created_at", "desc"),
    "updated_asc": ("updated_at", "asc"),
    "updated_desc": ("updated_at", "desc"),
}


class RoleThreadService:
    """Maps the V1 shapes onto ``ThreadService`` (and, for the whole-value replacements the
    V1 API makes, onto one atomic store update)."""

    def __init__(self, threads: ThreadService) -> None:
        self.threads = threads
        self.store = threads.store
        self.limits = threads.limits

    # reading ----------------------------------------------------------------------------

    async def _messages(
        self, principal: Principal, space_id: str, thread: ThreadRow
    ) -> list[dict[str, Any]]:
        """Every message up to the thread row's count (so ``version`` matches the list),
        read page by page; readers never see private ones."""
        last_seq = thread["message_count"]
        messages: list[dict[str, Any]] = []
        after: str | None = None
        while last_seq > 0:
            query = MessageListQuery(
                limit=PAGE_SIZE, after=after, include_private=shows_private(principal)
            )
            page = await self.threads.list_messages(principal, space_id, thread["id"], query)
            rows: list[MessageRow] = page["data"]
            messages.extend(message_v1(row) for row in rows if row["seq"] <= last_seq)
            if not page["has_more"] or not rows or rows[-1]["seq"] >= last_seq:
                break
            after = page["last_id"]
        return messages

    async def get(self, principal: Principal, space_id: str, thread_id: str) -> dict[str, Any]:
        thread = await self.threads.get(principal, space_id, thread_id)
        return thread_v1(thread, await self._messages(principal, space_id, thread))

    async def _matching(
        self, principal: Principal, space_id: str, filters: V1RoleThreadFilter
    ) -> AsyncIterator[ThreadRow]:
        if filters.id is not None:
            if not is_valid_id(filters.id):
                return
            try:
                thread = await self.threads.get(principal, space_id, filters.id)
            except NotFound:
                return
            if thread["status"] == "active" and _accepts(thread, filters):
                yield thread
            return
        order_by, order = _SORTS[filters.sort or "created_asc"]
        # Every filter is applied by the store.
        query = ThreadListQuery(
            limit=PAGE_SIZE,
            owner_id=filters.owner_id,
            title=filters.name,
            public=filters.public,
            order_by=order_by,
            order=order,
        )
        while True:
            page = await self.threads.list_threads(principal, space_id, query)
            for thread in page["data"]:
                yield thread
            if not page["has_more"]:
                return
            query = query.model_copy(update={"after": page["last_id"]})

    async def list_threads(
        self,
        principal: Principal,
        space_id: str,
        filters: V1RoleThreadFilter,
        *,
        with_messages: bool = True,
    ) -> dict[str, Any]:
        threads = []
        async for thread in self._matching(principal, space_id, filters):
            messages = await self._messages(principal, space_id, thread) if with_messages else []
            threads.append(thread_v1(thread, messages))
        return {"threads": threads}

    # writing ----------------------------------------------------------------------------

    async def create(
        self, principal: Principal, space_id: str, body: V1CreateRoleThread
    ) -> dict[str, Any]:
        if body.id is not None and not is_valid_id(body.id):
            raise ValidationFailed(
                f"id {body.id!r} is not a valid thread id",
                errors=[{"loc": ["body", "id"], "msg": "invalid id", "type": "id"}],
            )
        create = ThreadCreate(
            id=body.id,
            title=body.name,
            owner_id=body.owner_id,
            public=body.public,
            metadata=body.metadata or {},
            role_mapping={
                key: Role(**role.model_dump()) for key, role in body.role_mapping.items()
            },
        )
        thread, _ = await self.threads.create(principal, space_id, create)
        return thread_v1(thread, [])

    async def put(
        self, principal: Principal, space_id: str, thread_id: str, body: V1UpdateRoleThread
    ) -> dict[str, Any]:
        """Update, or create the thread when it does not exist (so a client's ``save()`` of
        a thread the server has not seen yet works in one request)."""
        principal.require_writer(space_id)
        self.limits.title(body.name, ("name",))
        if body.metadata is not None:
            self.limits.metadata(body.metadata)

        def mutate(thread: ThreadRow) -> ThreadChanges:
            changes: ThreadChanges = {}
            if body.name is not None and body.name != thread["title"]:
                changes["title"] = body.name
            if body.public != thread["public"]:
                changes["public"] = body.public
            if body.metadata is not None and body.metadata != thread["metadata"]:
                changes["metadata"] = body.metadata
            return changes

        for _ in range(2):
            row = await self.store.update_thread(space_id, thread_id, mutate)
            if row is not None:
                return await self.get(principal, space_id, thread_id)
            create = ThreadCreate(
                id=thread_id, title=body.name, public=body.public, metadata=body.metadata or {}
            )
            try:
                thread, _ = await self.threads.create(principal, space_id, create)
            except AlreadyExists:
                continue  # created by a concurrent request: update that one
            return thread_v1(thread, [])
        raise Conflict(f"thread {thread_id!r} changed while it was being written; retry")

    async def delete(self, principal: Principal, space_id: str, thread_id: str) -> None:
        await self.threads.purge(principal, space_id, thread_id)

    async def post_message(
        self, principal: Principal, space_id: str, thread_id: str, body: V1PostRoleMessage
    ) -> dict[str, Any]:
        text_field = "text" if body.text is not None else "msg"
        try:
            message = MessageCreate(
                role=body.role,
                content=body.content,
                images=body.images,
                private=bool(body.private),
                metadata=body.metadata or {},
            )
        except ValidationError as exc:
            errors = [
                {
                    "loc": ["body", *(text_field if p == "content" else p for p in e["loc"])],
                    "msg": e["msg"],
                    "type": e["type"],
                }
                for e in exc.errors()
            ]
            raise ValidationFailed("the message is not valid", errors=errors) from None
        rows = await self.threads.append(principal, space_id, thread_id, [message])
        return message_v1(rows[0])

    async def add_role(
        self, principal: Principal, space_id: str, thread_id: str, role: V1Role
    ) -> dict[str, Any]:
        principal.require_writer(space_id)

        def mutate(thread: ThreadRow) -> ThreadChanges:
            if role.name in thread["role_mapping"]:
                raise Conflict(f"role {role.name!r} already exists in thread {thread_id!r}")
            return {"role_mapping": {**thread["role_mapping"], role.name: role.model_dump()}}

        if await self.store.update_thread(space_id, thread_id, mutate) is None:
            raise NotFound(f"thread {thread_id!r} does not exist")
        return _role_v1(role.model_dump())

    async def remove_role(
        self, principal: Principal, space_id: str, thread_id: str, name: str
    ) -> dict[str, Any]:
        principal.require_writer(space_id)
        removed: list[dict[str, Any]] = []

        def mutate(thread: ThreadRow) -> ThreadChanges:
            mapping = dict(thread["role_mapping"])
            if name not in mapping:
                raise NotFound(f"role {name!r} does not exist in thread {thread_id!r}")
            removed.append(mapping.pop(name))
            return {"role_mapping": mapping}

        if await self.store.update_thread(space_id, thread_id, mutate) is None:
            raise NotFound(f"thread {thread_id!r} does not exist")
        return _role_v1(removed[-1])


def _accepts(thread: ThreadRow, filters: V1RoleThreadFilter) -> bool:
    if filters.owner_id is not None and thread["owner_id"] != filters.owner_id:
        return False
    if filters.name is not None and thread["title"] != filters.name:
        return False
    return filters.public is None or thread["public"] == filters.public
