"""Where a ``RoleThread`` lives: an ``Access`` (``threadloom.access``) to the local database or
to a threadloom server, always in the ``default`` space. Each operation of a RoleThread is one
call of it (a role change: one atomic change, then a read of the thread); none of them reads
or writes a whole thread. What is the original's own is here: which access a ``remote``
argument means, the API-key variables it reads, and the ``ValueError``s of its role methods.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from ..access import Access, RemoteAccess
from ..errors import Conflict, NotFound
from ..extras import requires_extra
from ..models import Thread
from .schemas import V1Role

if TYPE_CHECKING:
    from ..client import Client

__all__ = [
    "API_KEY_ENVS",
    "BATCH",
    "SPACE",
    "access_for",
    "add_role",
    "close_remote_clients",
    "find_thread",
    "local_access",
    "remote_access",
    "remove_role",
]

SPACE = "default"
"""The space every RoleThread lives in, locally and on a server (whose key must reach it)."""
BATCH = 100
"""Messages per append and per page read: the API's largest batch and page."""
API_KEY_ENVS = ("THREADLOOM_API_KEY", "AGENTSEA_HUB_API_KEY")
LOCAL_MODE = "the RoleThread local mode"


def local_access() -> Access:
    """The database the server uses (``THREADLOOM_DATABASE_URL``, read now), through the
    process's shared store of it."""
    with requires_extra(LOCAL_MODE):
        from ..access.local import LocalAccess

    return LocalAccess()


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


def remote_access(remote: str, auth_token: str | None = None) -> Access:
    """A threadloom server's native ``/v1`` API. The API key is ``auth_token``, else
    ``THREADLOOM_API_KEY``, else the original's ``AGENTSEA_HUB_API_KEY`` (none: a server open
    on loopback). Each server and key has one HTTP client, kept until
    ``close_remote_clients()``."""
    from ..client import Client

    key = (remote.rstrip("/"), _api_key(auth_token))
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = Client(*key)
    return RemoteAccess(client)


def close_remote_clients() -> None:
    """Close the HTTP clients kept for remote threads."""
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.close()


def access_for(remote: str | None, auth_token: str | None = None) -> Access:
    return remote_access(remote, auth_token) if remote else local_access()


def find_thread(access: Access, thread_id: str) -> Thread | None:
    try:
        return access.get_thread(SPACE, thread_id)
    except NotFound:
        return None


def add_role(access: Access, thread_id: str, role: V1Role) -> Thread:
    """One atomic check-and-set (of two clients adding the same role, one gets the
    ValueError), then the thread as it is now, for the handle's role mapping and version."""
    try:
        access.add_role(thread_id, role)
    except Conflict as exc:
        if type(exc) is not Conflict:  # not the role: ThreadArchived, RequestInProgress...
            raise
        raise ValueError(f"Role {role.name} already exists") from None
    return _existing(access, thread_id)


def remove_role(access: Access, thread_id: str, name: str) -> Thread:
    """One atomic check-and-delete. Its ``NotFound`` is the same for a missing thread and a
    missing role: whether the thread is there tells them apart."""
    try:
        access.remove_role(thread_id, name)
    except NotFound:
        if find_thread(access, thread_id) is None:
            raise
        raise ValueError(f"Role {name} does not exist") from None
    return _existing(access, thread_id)


def _existing(access: Access, thread_id: str) -> Thread:
    thread = find_thread(access, thread_id)
    if thread is None:
        raise NotFound(f"thread {thread_id!r} does not exist")
    return thread
