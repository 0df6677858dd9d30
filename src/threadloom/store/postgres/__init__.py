"""The PostgreSQL backend: for several processes or hosts sharing one database.

Plain asyncpg on a connection pool, no ORM on the request path. Statements are prepared and
cached per connection by asyncpg; JSON columns are ``jsonb`` and go through orjson codecs set
up on each new connection; timestamps are ``timestamptz`` and leave as RFC 3339 text
(:func:`format_ts`), exactly as the SQLite backend returns them.

Atomicity without application locks:

* an append is one statement: a CTE bumps ``threads.last_seq`` (whose row lock serializes
  concurrent appends to one thread across every process) and inserts the batch numbered from
  the new value, so sequence numbers are gapless and never collide;
* creating a thread with its first messages is one statement as well;
* read-modify-write operations whose new value is computed in Python (thread and space
  updates, state writes) run in a transaction around ``SELECT ... FOR UPDATE``.
"""

from __future__ import annotations

from ..batching import BatchWriter
from .access import AccessStoreMixin
from .assistants import AssistantStoreMixin
from .connection import PostgresBase
from .leases import LeaseStoreMixin
from .messages import MessageStoreMixin
from .spaces import SpaceStoreMixin
from .threads import ThreadStoreMixin

__all__ = ["PostgresStore"]


class PostgresStore(
    SpaceStoreMixin,
    ThreadStoreMixin,
    MessageStoreMixin,
    AssistantStoreMixin,
    AccessStoreMixin,
    LeaseStoreMixin,
    PostgresBase,
    BatchWriter,
):
    """The whole store: each mixin holds the queries of one resource, the base holds the
    pool; as a ``BatchWriter`` it group-commits in the server (``store.batching``)."""
