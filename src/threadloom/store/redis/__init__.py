"""The Redis backend (``redis://host:port/db``): everything in memory, for deployments that
already run Redis and can afford to keep their threads there.

``redis.asyncio`` on a connection pool; rows are orjson, timestamps the same fixed-width
RFC 3339 text as the other backends (:func:`format_ts`), so rows leave in the same wire
shape. Keys live under ``Settings.redis_prefix``; :mod:`.keys` draws the layout. There is no
schema: opening the store creates the ``default`` space once per prefix, as the migrations
do on SQL, and ``threadloom migrate`` has nothing to do.

Atomicity without locks held by the application:

* every write whose new value the store computes itself (create a thread with its messages,
  append, purge, create or delete a space, create an assistant, API keys, leases) is one
  Lua script, which Redis runs alone: an append checks the thread and the message ids and
  numbers the batch from the thread's ``last_seq`` in one step, so ``seq`` is gapless and a
  refused batch writes nothing. A create under an Idempotency-Key looks up and writes its
  key's record in that same script (``idem_recorded`` and ``idem_record`` in the prelude);
* read-modify-write operations whose new value comes from a Python callback (thread, space
  and assistant updates, state writes) are WATCH/MULTI transactions, retried when a
  watched key changed under them.

What things cost (n: the thread's messages or the space's threads):

* a page of messages, in either order, with or without the private and role filters, and a
  page of state versions: O(log n + page);
* an append: O(batch); reading a thread or its state: O(1);
* listing threads by status or by owner, in either order and from any cursor:
  O(log n + page);
* listing threads with a title, public, metadata or ``q`` filter: the script walks the
  index (by status, or by owner when one is given) and checks each thread, up to 2,000 per
  call, calling again until the page is full: O(threads walked), like an unindexed SQL
  filter. Between two calls a thread that changes may move in the index; a page never shows
  one twice;
* deleting a space with ``force``: O(everything in it), in one script that blocks Redis
  meanwhile; purging a thread: O(roles) with the memory freed in the background (UNLINK);
* assistants: a page (with or without the grant filter) and the unlockable ones cost
  O(log n + page); a lease is one key that expires on its own;
* retention: a thread that expires has every key expire with it (PEXPIREAT, set on each key
  as it is created), so reads find nothing from that instant at no cost; the sweep removes
  its index entries, O(expired threads) in one script per batch; purging an owner walks the
  owner's index, one script per batch of threads;
* listing API keys: O(keys); an idempotency sweep: O(records swept).

Scripts build key names from the ids they walk, so they need a standalone Redis (or one
primary), not Redis Cluster.
"""

from __future__ import annotations

from .access import AccessStoreMixin
from .assistants import AssistantStoreMixin
from .connection import RedisBase
from .leases import LeaseStoreMixin
from .messages import MessageStoreMixin
from .spaces import SpaceStoreMixin
from .state import StateStoreMixin
from .threads import ThreadStoreMixin

__all__ = ["RedisStore"]


class RedisStore(
    SpaceStoreMixin,
    ThreadStoreMixin,
    MessageStoreMixin,
    StateStoreMixin,
    AccessStoreMixin,
    AssistantStoreMixin,
    LeaseStoreMixin,
    RedisBase,
):
    """The whole store: each mixin holds the commands of one resource, the base holds the
    pool and the scripts."""
