"""Spaces on PostgreSQL."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import asyncpg

from ...errors import AlreadyExists, Conflict
from ...timestamps import format_ts, utc_now
from ..base import PageSlice, SpaceMutation, keyset_plan, slice_page
from ..rows import SpaceRow, changed, new_space_row

if TYPE_CHECKING:
    from .connection import Queryable

from .connection import PostgresBase, _count, _live
from .rows import SPACE_COLUMNS, space_row

__all__ = ["SpaceStoreMixin"]


class SpaceStoreMixin(PostgresBase):
    # spaces -----------------------------------------------------------------------------

    async def create_space(
        self,
        space_id: str,
        name: str,
        metadata: dict[str, Any],
        default_thread_ttl_seconds: int | None = None,
    ) -> SpaceRow:
        now = utc_now()
        row = new_space_row(space_id, name, metadata, default_thread_ttl_seconds, format_ts(now))

        async def effect(db: Queryable) -> SpaceRow:
            try:
                await db.execute(
                    f"INSERT INTO spaces ({SPACE_COLUMNS}) VALUES ($1, $2, $3, $4, $5)",
                    space_id,
                    name,
                    metadata,
                    now,
                    default_thread_ttl_seconds,
                )
            except asyncpg.UniqueViolationError as exc:
                raise AlreadyExists(f"space {space_id!r} already exists") from exc
            return row

        return await self._created(effect)

    async def get_space(self, space_id: str) -> SpaceRow | None:
        r = await self._fetchrow(f"SELECT {SPACE_COLUMNS} FROM spaces WHERE id = $1", space_id)
        return space_row(r) if r is not None else None

    async def list_spaces(
        self, limit: int, after: str | None, before: str | None, only: str | None
    ) -> PageSlice[SpaceRow]:
        plan = keyset_plan("asc", has_after=after is not None, has_before=before is not None)
        where: list[str] = []
        args: list[Any] = []
        if only is not None:
            args.append(only)
            where.append(f"id = ${len(args)}")
        cursor = before if before is not None else after
        if plan.op and cursor is not None:
            args.append(cursor)
            where.append(f"id {plan.op} ${len(args)}")
        sql = f"SELECT {SPACE_COLUMNS} FROM spaces"
        if where:
            sql += " WHERE " + " AND ".join(where)
        args.append(limit + 1)
        sql += f" ORDER BY id {plan.direction} LIMIT ${len(args)}"
        rows = [space_row(r) for r in await self._fetch(sql, *args)]
        return slice_page(rows, limit, plan)

    async def update_space(self, space_id: str, mutate: SpaceMutation) -> SpaceRow | None:
        async with self._transaction() as db:
            r = await db.fetchrow(
                f"SELECT {SPACE_COLUMNS} FROM spaces WHERE id = $1 FOR UPDATE", space_id
            )
            if r is None:
                return None
            space = space_row(r)
            space = changed(space, mutate(space))
            await db.execute(
                "UPDATE spaces SET name = $1, metadata = $2, default_thread_ttl_seconds = $3"
                " WHERE id = $4",
                space["name"],
                space["metadata"],
                space["default_thread_ttl_seconds"],
                space_id,
            )
        return space

    async def delete_space(self, space_id: str, force: bool) -> bool:
        async with self._transaction() as db:
            # Locking the space row waits for (and then blocks) threads being created in it,
            # so the emptiness check below cannot miss one.
            if await db.fetchval("SELECT 1 FROM spaces WHERE id = $1 FOR UPDATE", space_id) is None:
                return False
            if not force:
                # Expired threads do not count: they are gone already.
                busy = await db.fetchval(
                    f"SELECT 1 FROM threads WHERE space_id = $1 AND {_live(2)} LIMIT 1",
                    space_id,
                    utc_now(),
                )
                if busy is not None:
                    raise Conflict(
                        f"space {space_id!r} still has threads; delete with force=true to "
                        "remove it with everything in it"
                    )
            return _count(await db.execute("DELETE FROM spaces WHERE id = $1", space_id)) > 0
