"""Retention: expired threads swept away, and every thread of one owner purged.

A thread expires at its ``expires_at`` (set from ``ttl_seconds`` or the space's
``default_thread_ttl_seconds``; appending does not move it). From that instant the store
treats it as missing; the sweep only reclaims the storage, so how often it runs changes
nothing a client can see.

Purging an owner tells the space's live event streams once, when it is done: one
``threads.purged`` event with ``{"owner_id", "count"}``, not a ``thread.deleted`` per thread
(the store deletes in batches without reading the ids, and a huge owner's thousands of events
would only push every subscriber past its queue). The sweep sends no events: a thread is
gone from the instant it expires, whenever the sweep comes.
"""

from __future__ import annotations

import asyncio

from ..errors import NotFound
from ..events import EventHub
from ..store import Store
from .auth import Principal

__all__ = ["PURGED_EVENT", "SWEEP_BATCH", "RetentionService"]

SWEEP_BATCH = 500
"""Expired threads deleted per transaction: short transactions, however much expired."""
PURGED_EVENT = "threads.purged"
"""The space event of a purge by owner (``thread_id`` null), data ``{"owner_id", "count"}``."""


class RetentionService:
    def __init__(self, store: Store, events: EventHub | None = None) -> None:
        self.store = store
        self.events = events

    async def sweep(self, batch: int = SWEEP_BATCH) -> int:
        """Delete every expired thread, ``batch`` per transaction; returns how many."""
        removed = 0
        while True:
            swept = await self.store.sweep_expired(batch)
            removed += swept
            if swept < batch:
                return removed
            await asyncio.sleep(0)  # let requests run between two batches

    async def purge_owner(self, principal: Principal, space_id: str, owner_id: str) -> int:
        """Delete every thread of ``owner_id`` in the space (a data subject's deletion);
        returns how many there were. When there were any, the space's streams get one
        ``threads.purged`` event once they are all gone."""
        principal.require_writer(space_id)
        if await self.store.get_space(space_id) is None:
            raise NotFound(f"space {space_id!r} does not exist")
        deleted = await self.store.purge_owner(space_id, owner_id)
        if deleted and self.events is not None:
            data = {"owner_id": owner_id, "count": deleted}
            self.events.publish(space_id, None, PURGED_EVENT, data)
        return deleted
