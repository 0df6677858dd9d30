"""What every ``RoleThread`` is made of: the cached fields of its stored thread, and its
messages.

The store is the source of truth. The object caches the thread's own fields and what its
version derives from (message count, ``updated_at``, state version), never its messages:
``post`` appends one message through the store and reads nothing back, and ``messages()``
reads the store page by page (``last_n`` reads only the newest ones). Objects built with
``from_v1``/``from_record`` are the exception: until they are saved they hold the messages
they were given (``_snapshot``), and their first ``save()`` (or ``post``) writes the thread
and those messages.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Self

from ..access import Access
from ..errors import AlreadyExists
from ..models import Message, MessageListQuery, Role, Thread, ThreadCreate
from ..models import ThreadUpdate as _ThreadUpdate
from .access import BATCH, SPACE, find_thread
from .images import ImageLike
from .messages import RoleMessage, message_pages, seconds
from .schemas import V1Role

__all__ = ["ThreadBase"]


def _v1_role(role: Mapping[str, Any]) -> V1Role:
    # Roles set through threadloom's own API may lack the fields the original requires.
    return V1Role(
        name=role.get("name") or "",
        user_id=role.get("user_id") or "",
        user_name=role.get("user_name") or "",
        icon=role.get("icon") or "",
        description=role.get("description"),
    )


def _removals(stored: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict[str, Any]:
    """A key-by-key merge patch that turns ``stored`` into ``wanted``."""
    return {**{key: None for key in stored if key not in wanted}, **wanted}


class ThreadBase:
    """The fields, the version, the messages and ``save`` of a ``RoleThread``."""

    _id: str
    _owner_id: str | None
    _public: bool
    _name: str | None
    _metadata: dict[str, Any] | None
    _role_mapping: dict[str, V1Role]
    _remote: str | None
    _created: float
    _updated: float
    _updated_at: str | None
    _message_count: int
    _state_version: int
    _version: str | None
    _snapshot: list[RoleMessage] | None
    _access: Access

    @classmethod
    def _from_row(cls, access: Access, remote: str | None, row: Thread) -> Self:
        """A handle on ``row``, reached through ``access``; ``remote`` as the caller gave it."""
        obj = cls.__new__(cls)
        obj._access, obj._remote, obj._snapshot, obj._id = access, remote, None, row.id
        obj._apply(row)
        return obj

    def _create_body(self) -> ThreadCreate:
        return ThreadCreate(
            id=self._id,
            title=self._name,
            owner_id=self._owner_id,
            public=self._public,
            metadata=self._metadata or {},
            role_mapping={
                key: Role(**role.model_dump()) for key, role in self._role_mapping.items()
            },
        )

    def _stamp(self, row: Thread) -> None:
        """What the version derives from, and the roles, from a stored thread."""
        self._role_mapping = {
            key: _v1_role(role.model_dump()) for key, role in row.role_mapping.items()
        }
        self._created = seconds(row.created_at)
        self._updated_at = row.updated_at
        self._updated = seconds(row.updated_at)
        self._message_count = row.message_count
        self._state_version = row.state_version
        self._version = None

    def _apply(self, row: Thread) -> None:
        self._owner_id = row.owner_id
        self._public = row.public
        self._name = row.title
        self._metadata = row.metadata or None
        self._stamp(row)

    # properties -------------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self._id

    @property
    def owner_id(self) -> str | None:
        return self._owner_id

    @property
    def public(self) -> bool:
        return self._public

    @property
    def name(self) -> str | None:
        return self._name

    @name.setter
    def name(self, value: str | None) -> None:
        """Changes the object; ``save()`` stores it."""
        self._name = value

    @property
    def metadata(self) -> dict[str, Any] | None:
        return self._metadata

    @metadata.setter
    def metadata(self, value: dict[str, Any] | None) -> None:
        """Changes the object; ``save()`` stores it."""
        self._metadata = value

    @property
    def remote(self) -> str | None:
        return self._remote

    @property
    def role_mapping(self) -> dict[str, V1Role]:
        return self._role_mapping

    @property
    def version(self) -> str:
        return self._version if self._version is not None else self.generate_version_hash()

    @property
    def created(self) -> float:
        return self._created

    @property
    def updated(self) -> float:
        return self._updated

    def generate_version_hash(self) -> str:
        """A SHA-256 of what changes whenever the thread does: its id, message count,
        ``updated_at`` and state version. Costs nothing: the thread is not read."""
        updated = self._updated_at if self._updated_at is not None else repr(self._updated)
        basis = f"{self._id}\n{self._message_count}\n{updated}\n{self._state_version}"
        return hashlib.sha256(basis.encode()).hexdigest()

    # messages ---------------------------------------------------------------------------

    def post(
        self,
        role: str,
        msg: str,
        images: Iterable[ImageLike] = (),
        private: bool = False,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Append a message. ``images``: http(s) or data: URLs, local file paths, bare base64
        strings or PIL images. One store call (or request), whatever the thread's length."""
        message = RoleMessage(role, msg, self._id, images, private, metadata)
        self._append([message])

    def add_msg(self, msg: RoleMessage) -> None:
        """Append ``msg`` (it keeps its id; ValueError if this thread already has it)."""
        try:
            self._append([msg])
        except AlreadyExists:
            raise ValueError(f"message {msg.id!r} is already in thread {self._id!r}") from None

    def _append(self, messages: Sequence[RoleMessage]) -> None:
        self._sync()
        for start in range(0, len(messages), BATCH):
            chunk = messages[start : start + BATCH]
            creates = [message.to_create() for message in chunk]
            rows = self._access.append_messages(SPACE, self._id, creates)
            for message, row in zip(chunk, rows, strict=True):
                message.thread_id = self._id
                message.created = seconds(row.created_at)
            self._counted(rows)

    def _counted(self, rows: list[Message]) -> None:
        """The thread row after appending ``rows``, without reading it."""
        if rows:
            self._message_count += len(rows)
            self._updated_at = rows[-1].created_at
            self._updated = seconds(rows[-1].created_at)
            self._version = None

    def messages(
        self, include_private: bool = True, *, last_n: int | None = None
    ) -> list[RoleMessage]:
        """The thread's messages, oldest first, read page by page. ``last_n``: only the
        newest ``last_n`` (one page read for up to 100)."""
        if self._snapshot is not None:
            kept = [m for m in self._snapshot if include_private or not m.private]
            return kept if last_n is None else kept[max(len(kept) - last_n, 0) :]
        if last_n is None:
            pages = message_pages(self._access, self._id, include_private=include_private)
            return [RoleMessage.from_row(row) for rows in pages for row in rows]
        return self._newest(last_n, include_private)

    def _newest(self, count: int, include_private: bool) -> list[RoleMessage]:
        rows: list[Message] = []
        after: str | None = None
        while len(rows) < count:
            query = MessageListQuery(
                limit=min(BATCH, count - len(rows)),
                order="desc",
                after=after,
                include_private=include_private,
            )
            page = self._access.list_messages(SPACE, self._id, query)
            rows.extend(page.data)
            if not page.has_more:
                break
            after = page.last_id
        return [RoleMessage.from_row(row) for row in reversed(rows)]

    # the thread -------------------------------------------------------------------------

    def save(self) -> None:
        """Store the thread's fields as this object has them (creating the thread if it is
        not stored), and the messages of an object built by ``from_v1``/``from_record``."""
        row = find_thread(self._access, self._id)
        existed = row is not None
        if row is None:
            row = self._access.create_thread(SPACE, self._create_body())
        else:
            changes = self._changes(row)
            if changes:
                row = self._access.update_thread(SPACE, self._id, _ThreadUpdate(**changes))
        self._stamp(row)
        snapshot, self._snapshot = self._snapshot, None
        if snapshot:
            stored = self._stored_ids() if existed else set()
            self._append([message for message in snapshot if message.id not in stored])

    def _changes(self, row: Thread) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        for column, stored, value in (
            ("title", row.title, self._name),
            ("public", row.public, self._public),
            ("owner_id", row.owner_id, self._owner_id),
        ):
            if stored != value:
                changes[column] = value
        metadata = self._metadata or {}
        if row.metadata != metadata:
            changes["metadata"] = _removals(row.metadata, metadata)
        stored_roles = {key: role.model_dump() for key, role in row.role_mapping.items()}
        roles = {
            key: Role(**role.model_dump()).model_dump() for key, role in self._role_mapping.items()
        }
        if stored_roles != roles:
            changes["role_mapping"] = _removals(stored_roles, roles)
        return changes

    def _stored_ids(self) -> set[str]:
        pages = message_pages(self._access, self._id)
        return {row.id for rows in pages for row in rows}

    def _sync(self) -> None:
        if self._snapshot is not None:
            self.save()
