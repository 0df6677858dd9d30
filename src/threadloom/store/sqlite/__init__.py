"""The SQLite backend: the embedded default.

Every call runs synchronously on the caller's thread, inside the event loop. A SQLite
statement on a warm page cache takes microseconds, far less than a hop to a worker thread
and back, and running whole operations without an ``await`` inside makes each of them atomic
with respect to the other requests of the process: there is one writer per process by
construction, so requests never see "database is locked" from each other. Write
transactions start with ``BEGIN IMMEDIATE`` and the connection waits ``busy_timeout`` for
other processes that share the file (WAL mode lets readers go on meanwhile).

A lock serializes callers from several threads (the local library may be used that way).
"""

from __future__ import annotations

from ..batching import BatchWriter
from .access import AccessStoreMixin
from .assistants import AssistantStoreMixin
from .connection import SQLiteBase
from .leases import LeaseStoreMixin
from .messages import MessageStoreMixin
from .spaces import SpaceStoreMixin
from .threads import ThreadStoreMixin

__all__ = ["SQLiteStore"]


class SQLiteStore(
    SpaceStoreMixin,
    ThreadStoreMixin,
    MessageStoreMixin,
    AssistantStoreMixin,
    AccessStoreMixin,
    LeaseStoreMixin,
    SQLiteBase,
    BatchWriter,
):
    """The whole store: each mixin holds the queries of one resource, the base holds the
    connection; as a ``BatchWriter`` it group-commits in the server (``store.batching``)."""
