"""``RoleThread``: a handle on one threadloom thread, with the original ``threadmem`` API.

The parts: ``base`` (fields, version, messages, ``save``), ``conversions`` (OpenAI, V1,
records) and here creation, roles, ``refresh``, ``delete``, ``copy`` and ``find``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Self

from ..access import Access
from ..errors import NotFound
from ..ids import is_valid_id, new_id
from ..models import MessageCreate, Thread, ThreadListQuery
from .access import BATCH, SPACE, access_for, add_role, find_thread, remote_access, remove_role
from .conversions import ThreadConversions
from .messages import message_pages
from .schemas import V1Role

__all__ = ["RoleThread"]

_THREAD_FILTERS = ("id", "name", "owner_id", "public")


class RoleThread(ThreadConversions):
    """A role-based chat thread, local (``remote=None``: the database the server uses,
    ``THREADLOOM_DATABASE_URL``) or on a threadloom server (``remote="http://host:port"``),
    in the ``default`` space either way.

    Constructing one creates the thread. ``version`` is derived from the stored thread, so
    the argument is accepted for compatibility only.
    """

    def __init__(
        self,
        owner_id: str | None = None,
        public: bool = False,
        name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        remote: str | None = None,
        version: str | None = None,  # noqa: ARG002 - derived from the stored thread
        role_mapping: Mapping[str, V1Role] | None = None,
    ) -> None:
        self._access = access_for(remote)
        self._remote = remote
        self._snapshot = None
        self._id = new_id("thr")
        self._owner_id, self._public, self._name = owner_id, bool(public), name
        self._metadata = dict(metadata) if metadata else None
        self._role_mapping = dict(role_mapping or {})
        self._apply(self._access.create_thread(SPACE, self._create_body()))

    def __repr__(self) -> str:
        # The original's documented form: the constructor's own arguments first.
        return (
            f"RoleThread(owner_id={self._owner_id!r}, public={self._public!r}, "
            f"name={self._name!r}, id={self._id!r}, remote={self._remote!r})"
        )

    # roles ------------------------------------------------------------------------------

    def add_role(self, role: V1Role) -> None:
        """Add a role to the thread's role mapping (ValueError if it is there already)."""
        self._sync()
        self._stamp(add_role(self._access, self._id, role))

    def remove_role(self, name: str) -> None:
        """Remove a role from the role mapping (ValueError if it is not there)."""
        self._sync()
        self._stamp(remove_role(self._access, self._id, name))

    # the thread -------------------------------------------------------------------------

    def refresh(self, auth_token: str | None = None) -> None:
        """Read the thread's fields again from the store or server (``auth_token``: the API
        key to use from now on for a remote thread)."""
        if auth_token and self._remote:
            self._access = remote_access(self._remote, auth_token)
        row = find_thread(self._access, self._id)
        if row is None:
            raise NotFound(f"thread {self._id!r} does not exist")
        self._snapshot = None
        self._apply(row)

    def delete(self) -> None:
        """Delete the thread and its messages for good."""
        self._access.purge_thread(SPACE, self._id)

    def copy(self) -> Self:
        """A new thread (new id) with this one's fields and a copy of its messages (same
        ids), stored at once: it is copied in the store page by page."""
        self._sync()
        body = self._create_body().model_copy(update={"id": new_id("thr")})
        copied = type(self)._from_row(
            self._access, self._remote, self._access.create_thread(SPACE, body)
        )
        for rows in message_pages(self._access, self._id):
            batch = [
                MessageCreate(
                    id=row.id,
                    role=row.role,
                    content=row.content,
                    images=row.images,
                    private=row.private,
                    metadata=row.metadata,
                )
                for row in rows
            ]
            copied._counted(self._access.append_messages(SPACE, copied._id, batch))
        return copied

    @classmethod
    def find(cls, remote: str | None = None, **kwargs: Any) -> list[RoleThread]:
        """Threads matching every filter: ``id``, ``owner_id``, ``name`` (exact) and
        ``public``, applied by the store (on a server, by the server).
        Oldest first, or newest first from a server (as the original did)."""
        unknown = set(kwargs) - set(_THREAD_FILTERS)
        if unknown:
            raise TypeError(
                f"RoleThread.find() filters on {', '.join(_THREAD_FILTERS)}; "
                f"not {', '.join(sorted(unknown))}"
            )
        access = access_for(remote)
        return [cls._from_row(access, remote, row) for row in _matching(access, kwargs)]


def _matching(access: Access, filters: Mapping[str, Any]) -> Iterator[Thread]:
    def accepts(row: Thread) -> bool:
        return all(
            getattr(row, "title" if name == "name" else name) == filters[name]
            for name in ("name", "owner_id", "public")
            if name in filters
        )

    if "id" in filters:
        thread_id = filters["id"]
        row = find_thread(access, thread_id) if is_valid_id(thread_id or "") else None
        if row is not None and row.status == "active" and accepts(row):
            yield row
        return
    query = ThreadListQuery(
        limit=BATCH,
        owner_id=filters.get("owner_id"),
        title=filters.get("name"),
        public=filters.get("public"),
        order_by="created_at",
        order="desc" if access.remote else "asc",
    )
    while True:
        page = access.list_threads(SPACE, query)
        yield from (row for row in page.data if accepts(row))
        if not page.has_more:
            return
        query = query.model_copy(update={"after": page.last_id})
