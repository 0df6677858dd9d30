"""Where a ``RoleThread`` lives: the local database (``LocalBackend``) or a threadloom server
(``RemoteBackend``). Both offer the same few operations on threadloom's native threads and
messages, in their wire shape (plain dicts, as ``threadloom.models.Thread`` and ``Message``
serialize), always in the ``default`` space. Each operation is one store call or one request
(a role change, one atomic change and then a read of the thread); none of them reads or
writes a whole thread.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import Conflict, NotFound
from ..extras import requires_extra
from ..models import MessageCreate, MessageListQuery, ThreadCreate, ThreadListQuery, ThreadUpdate
from .schemas import V1Role

if TYPE_CHECKING:
    from ..client import Client
    from ..local import LocalStore

__all__ = [
    "API_KEY_ENVS",
    "BATCH",
    "SPACE",
    "Backend",
    "LocalBackend",
    "Page",
    "RemoteBackend",
    "Row",
    "backend_for",
    "close_remote_clients",
]

Row = Mapping[str, Any]
"""A thread or message in its wire shape: a store row locally, decoded JSON remotely."""
SPACE = "default"
"""The space every RoleThread lives in, locally and on a server (whose key must reach it)."""
BATCH = 100
"""Messages per append and per page read: the API's largest batch and page."""
API_KEY_ENVS = ("THREADLOOM_API_KEY", "AGENTSEA_HUB_API_KEY")


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[Row]
    has_more: bool
    last_id: str | None


class Backend(Protocol):
    remote: str | None

    def create_thread(self, fields: ThreadCreate) -> Row: ...
    def get_thread(self, thread_id: str) -> Row | None: ...
    def update_thread(self, thread_id: str, changes: ThreadUpdate) -> Row: ...
    def purge_thread(self, thread_id: str) -> None: ...
    def append(self, thread_id: str, messages: Sequence[MessageCreate]) -> list[Row]: ...
    def list_messages(self, thread_id: str, query: MessageListQuery) -> Page: ...
    def list_threads(self, query: ThreadListQuery) -> Page: ...
    def add_role(self, thread_id: str, role: V1Role) -> Row: ...
    def remove_role(self, thread_id: str, name: str) -> Row: ...


LOCAL_MODE = "the RoleThread local mode"


def _role_exists(name: str) -> ValueError:
    return ValueError(f"Role {name} already exists")


def _role_missing(name: str) -> ValueError:
    return ValueError(f"Role {name} does not exist")


def _page(body: dict[str, Any]) -> Page:
    return Page(body["data"], body["has_more"], body["last_id"])


class LocalBackend:
    """The database at ``url`` through ``threadloom.local`` (imported on first use)."""

    remote: str | None = None

    def __init__(self, url: str) -> None:
        self.url = url
        self._store: LocalStore | None = None

    @classmethod
    def default(cls) -> LocalBackend:
        with requires_extra(LOCAL_MODE):
            from .. import local

        return cls(local.default_url())

    @property
    def _local(self) -> LocalStore:
        """The open store of ``url``, kept between calls and looked up again once it is
        closed (``local.close_all()``: the next use opens the database again)."""
        store = self._store
        if store is None or store.closed:
            with requires_extra(LOCAL_MODE):
                from .. import local

            store = self._store = local.store_for(self.url)
        return store

    def __getstate__(self) -> dict[str, Any]:
        """Copies and pickles keep the URL only and look the open store up again."""
        return {"url": self.url, "_store": None}

    def create_thread(self, fields: ThreadCreate) -> Row:
        local = self._local
        row, _ = local.run(local.services.threads.create(local.principal, SPACE, fields))
        return row

    def get_thread(self, thread_id: str) -> Row | None:
        local = self._local
        try:
            return local.run(local.services.threads.get(local.principal, SPACE, thread_id))
        except NotFound:
            return None

    def update_thread(self, thread_id: str, changes: ThreadUpdate) -> Row:
        local = self._local
        threads = local.services.threads
        return local.run(threads.update(local.principal, SPACE, thread_id, changes))

    def purge_thread(self, thread_id: str) -> None:
        local = self._local
        local.run(local.services.threads.purge(local.principal, SPACE, thread_id))

    def append(self, thread_id: str, messages: Sequence[MessageCreate]) -> list[Row]:
        local = self._local
        threads = local.services.threads
        return list(local.run(threads.append(local.principal, SPACE, thread_id, messages)))

    def list_messages(self, thread_id: str, query: MessageListQuery) -> Page:
        local = self._local
        threads = local.services.threads
        return _page(local.run(threads.list_messages(local.principal, SPACE, thread_id, query)))

    def list_threads(self, query: ThreadListQuery) -> Page:
        local = self._local
        return _page(local.run(local.services.threads.list_threads(local.principal, SPACE, query)))

    def add_role(self, thread_id: str, role: V1Role) -> Row:
        local = self._local
        rolethreads = local.services.rolethreads
        try:  # one atomic check-and-set in the store
            local.run(rolethreads.add_role(local.principal, SPACE, thread_id, role))
        except Conflict:
            raise _role_exists(role.name) from None
        return self._current(thread_id)

    def remove_role(self, thread_id: str, name: str) -> Row:
        local = self._local
        rolethreads = local.services.rolethreads
        try:
            local.run(rolethreads.remove_role(local.principal, SPACE, thread_id, name))
        except NotFound:
            if self.get_thread(thread_id) is None:
                raise
            raise _role_missing(name) from None
        return self._current(thread_id)

    def _current(self, thread_id: str) -> Row:
        row = self.get_thread(thread_id)
        if row is None:
            raise NotFound(f"thread {thread_id!r} does not exist")
        return row


# Remote ---------------------------------------------------------------------------------------

_clients: dict[tuple[str, str | None], Client] = {}
_clients_lock = threading.Lock()


def _api_key(auth_token: str | None) -> str | None:
    if auth_token:
        return auth_token
    for name in API_KEY_ENVS:
        value = os.environ.get(name)
        if value:
            return value
    return None


def _client(base_url: str, api_key: str | None) -> Client:
    from ..client import Client

    key = (base_url, api_key)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = Client(base_url, api_key)
        return client


def close_remote_clients() -> None:
    """Close the HTTP clients kept for remote threads (each server and key has one)."""
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.close()


def _dump(model: Any) -> Row:
    row: Row = model.model_dump()
    return row


class RemoteBackend:
    """A threadloom server's native ``/v1`` API through ``threadloom.client.Client``. The
    API key is ``auth_token``, else ``THREADLOOM_API_KEY``, else the original's
    ``AGENTSEA_HUB_API_KEY`` (none: a server open on loopback)."""

    def __init__(self, remote: str, auth_token: str | None = None) -> None:
        self.remote: str | None = remote
        self.base_url = remote.rstrip("/")
        self.api_key = _api_key(auth_token)

    @property
    def _client(self) -> Client:
        return _client(self.base_url, self.api_key)

    def create_thread(self, fields: ThreadCreate) -> Row:
        thread = self._client.threads.create(
            SPACE,
            id=fields.id,
            title=fields.title,
            owner_id=fields.owner_id,
            public=fields.public,
            metadata=fields.metadata,
            role_mapping=fields.role_mapping,
        )
        return _dump(thread)

    def get_thread(self, thread_id: str) -> Row | None:
        try:
            return _dump(self._client.threads.get(SPACE, thread_id))
        except NotFound:
            return None

    def update_thread(self, thread_id: str, changes: ThreadUpdate) -> Row:
        fields = changes.model_dump(exclude_unset=True, mode="json")
        return _dump(self._client.threads.update(SPACE, thread_id, **fields))

    def purge_thread(self, thread_id: str) -> None:
        self._client.threads.purge(SPACE, thread_id)

    def append(self, thread_id: str, messages: Sequence[MessageCreate]) -> list[Row]:
        # The batch endpoint takes client-chosen message ids (messages.create does not).
        created = self._client.messages.create_batch(SPACE, thread_id, messages)
        return [_dump(message) for message in created]

    def list_messages(self, thread_id: str, query: MessageListQuery) -> Page:
        page = self._client.messages.list(
            SPACE,
            thread_id,
            order=query.order,
            limit=query.limit,
            after=query.after,
            before=query.before,
            include_private=query.include_private,
            role=query.role,
        )
        return Page([_dump(m) for m in page.data], page.has_more, page.last_id)

    def list_threads(self, query: ThreadListQuery) -> Page:
        """Every filter is applied by the server."""
        page = self._client.threads.list(
            SPACE,
            status=query.status,
            owner_id=query.owner_id,
            title=query.title,
            public=query.public,
            metadata=dict(query.metadata) or None,
            q=query.q,
            order_by=query.order_by,
            order=query.order,
            limit=query.limit,
            after=query.after,
            before=query.before,
        )
        return Page([_dump(t) for t in page.data], page.has_more, page.last_id)

    def add_role(self, thread_id: str, role: V1Role) -> Row:
        """One atomic check-and-set on the server (``POST /v1/rolethreads/{id}/roles``): of
        two clients adding the same role, one gets the ValueError. Then the thread as it is
        now, for the handle's role mapping and version."""
        try:
            self._client.rolethreads.add_role(thread_id, role)
        except Conflict as exc:
            if type(exc) is not Conflict:  # not the role: ThreadArchived, RequestInProgress...
                raise
            raise _role_exists(role.name) from None
        return self._existing(thread_id)

    def remove_role(self, thread_id: str, name: str) -> Row:
        """One atomic check-and-delete on the server. Its 404 is the same for a missing
        thread and a missing role: whether the thread is there tells them apart."""
        try:
            self._client.rolethreads.remove_role(thread_id, name)
        except NotFound:
            if self.get_thread(thread_id) is None:
                raise
            raise _role_missing(name) from None
        return self._existing(thread_id)

    def _existing(self, thread_id: str) -> Row:
        row = self.get_thread(thread_id)
        if row is None:
            raise NotFound(f"thread {thread_id!r} does not exist")
        return row


def backend_for(remote: str | None, auth_token: str | None = None) -> Backend:
    if remote:
        return RemoteBackend(remote, auth_token)
    return LocalBackend.default()
