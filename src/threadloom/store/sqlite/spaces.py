"""Spaces on SQLite."""

from __future__ import annotations

import sqlite3
from typing import Any, cast

from ...errors import AlreadyExists, Conflict
from ..base import PageSlice, SpaceMutation, keyset_plan, slice_page
from ..idempotent import take_write
from ..rows import SpaceRow, changed, new_space_row
from .access import is_replay, record_result, recorded_replay
from .connection import LIVE, SQLiteBase, _dumps, _now
from .rows import SPACE_COLUMNS, space_row

__all__ = ["SpaceStoreMixin"]


class SpaceStoreMixin(SQLiteBase):
    # spaces -----------------------------------------------------------------------------

    async def create_space(
        self,
        space_id: str,
        name: str,
        metadata: dict[str, Any],
        default_thread_ttl_seconds: int | None = None,
    ) -> SpaceRow:
        now, write = _now(), take_write()
        with self._writing() as db:
            replay = recorded_replay(db, write)
            if is_replay(replay):
                return cast(SpaceRow, replay)
            try:
                db.execute(
                    f"INSERT INTO spaces ({SPACE_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                    (space_id, name, _dumps(metadata), now, default_thread_ttl_seconds),
                )
            except sqlite3.IntegrityError as exc:
                raise AlreadyExists(f"space {space_id!r} already exists") from exc
            row = new_space_row(space_id, name, metadata, default_thread_ttl_seconds, now)
            return record_result(db, write, row)

    async def get_space(self, space_id: str) -> SpaceRow | None:
        with self._reading() as db:
            r = db.execute(
                f"SELECT {SPACE_COLUMNS} FROM spaces WHERE id = ?", (space_id,)
            ).fetchone()
        return space_row(r) if r else None

    async def list_spaces(
        self, limit: int, after: str | None, before: str | None, only: str | None
    ) -> PageSlice[SpaceRow]:
        plan = keyset_plan("asc", has_after=after is not None, has_before=before is not None)
        where, args = [], []
        if only is not None:
            where.append("id = ?")
            args.append(only)
        cursor = before if before is not None else after
        if plan.op and cursor is not None:
            where.append(f"id {plan.op} ?")
            args.append(cursor)
        sql = f"SELECT {SPACE_COLUMNS} FROM spaces"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY id {plan.direction} LIMIT ?"
        with self._reading() as db:
            rows = [space_row(r) for r in db.execute(sql, (*args, limit + 1))]
        return slice_page(rows, limit, plan)

    async def update_space(self, space_id: str, mutate: SpaceMutation) -> SpaceRow | None:
        with self._writing() as db:
            r = db.execute(
                f"SELECT {SPACE_COLUMNS} FROM spaces WHERE id = ?", (space_id,)
            ).fetchone()
            if r is None:
                return None
            space = space_row(r)
            space = changed(space, mutate(space))
            db.execute(
                "UPDATE spaces SET name = ?, metadata = ?, default_thread_ttl_seconds = ?"
                " WHERE id = ?",
                (
                    space["name"],
                    _dumps(space["metadata"]),
                    space["default_thread_ttl_seconds"],
                    space_id,
                ),
            )
        return space

    async def delete_space(self, space_id: str, force: bool) -> bool:
        with self._writing() as db:
            if not force:
                # Expired threads do not count: they are gone already.
                busy = db.execute(
                    f"SELECT 1 FROM threads WHERE space_id = ? AND {LIVE} LIMIT 1",
                    (space_id, _now()),
                )
                if busy.fetchone() is not None:
                    raise Conflict(
                        f"space {space_id!r} still has threads; delete with force=true to "
                        "remove it with everything in it"
                    )
            return db.execute("DELETE FROM spaces WHERE id = ?", (space_id,)).rowcount > 0
