"""Retention: expired threads swept away, and every thread of one owner purged.

A thread expires at its ``expires_at`` (set from ``ttl_seconds`` or the space's
``default_thread_ttl_seconds``; appending does not move it). From that instant the store
treats it as missing; the sweep only reclaims the storage, so how often it runs changes
nothing a client can see.
"""

from __future__ import annotations

import asyncio

from ..errors import NotFound
from ..store import Store
from .auth import Principal

__all__ = ["SWEEP_BATCH", "RetentionService"]

SWEEP_BATCH = 500
"""Expired threads deleted per transaction: short transactions, however much expired."""


class RetentionService:
    def __init__(self, store: Store) -> None:
        self.store = store

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
        returns how many there were."""
        principal.require_writer(space_id)
        if await self.store.get_space(space_id) is None:
            raise NotFound(f"space {space_id!r} does not exist")
        return await self.store.purge_owner(space_id, owner_id)
