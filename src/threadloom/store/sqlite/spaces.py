"""Spaces on SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, cast

from ...errors import AlreadyExists, Conflict
from ..base import PageSlice, Row, keyset_plan, slice_page
from ..idempotent import take_write
from .access import is_replay, record_result, recorded_replay
from .connection import LIVE, SQLiteBase, _dumps, _loads, _now

__all__ = ["SpaceStoreMixin"]

_SPACE_COLUMNS = "id, name, metadata, created_at, default_thread_ttl_seconds"


def _space(r: Sequence[Any]) -> Row:
    return {
        "object": "space",
        "id": r[0],
        "name": r[1],
        "metadata": _loads(r[2]),
        "created_at": r[3],
        "default_thread_ttl_seconds": r[4],
    }


class SpaceStoreMixin(SQLiteBase):
    # spaces -----------------------------------------------------------------------------

    async def create_space(
        self,
        space_id: str,
        name: str,
        metadata: dict[str, Any],
        default_thread_ttl_seconds: int | None = None,
    ) -> Row:
        now, write = _now(), take_write()
        with self._writing() as db:
            replay = recorded_replay(db, write)
            if is_replay(replay):
                return cast(Row, replay)
            try:
                db.execute(
                    f"INSERT INTO spaces ({_SPACE_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                    (space_id, name, _dumps(metadata), now, default_thread_ttl_seconds),
                )
            except sqlite3.IntegrityError as exc:
                raise AlreadyExists(f"space {space_id!r} already exists") from exc
            row = {
                "object": "space",
                "id": space_id,
                "name": name,
                "metadata": metadata,
                "created_at": now,
                "default_thread_ttl_seconds": default_thread_ttl_seconds,
            }
            return record_result(db, write, row)

    async def get_space(self, space_id: str) -> Row | None:
        with self._reading() as db:
            r = db.execute(
                f"SELECT {_SPACE_COLUMNS} FROM spaces WHERE id = ?", (space_id,)
            ).fetchone()
        return _space(r) if r else None

    async def list_spaces(
        self, limit: int, after: str | None, before: str | None, only: str | None
    ) -> PageSlice:
        plan = keyset_plan("asc", has_after=after is not None, has_before=before is not None)
        where, args = [], []
        if only is not None:
            where.append("id = ?")
            args.append(only)
        cursor = before if before is not None else after
        if plan.op and cursor is not None:
            where.append(f"id {plan.op} ?")
            args.append(cursor)
        sql = f"SELECT {_SPACE_COLUMNS} FROM spaces"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY id {plan.direction} LIMIT ?"
        with self._reading() as db:
            rows = [_space(r) for r in db.execute(sql, (*args, limit + 1))]
        return slice_page(rows, limit, plan)

    async def update_space(self, space_id: str, mutate: Callable[[Row], Row]) -> Row | None:
        with self._writing() as db:
            r = db.execute(
                f"SELECT {_SPACE_COLUMNS} FROM spaces WHERE id = ?", (space_id,)
            ).fetchone()
            if r is None:
                return None
            space = _space(r)
            space.update(mutate(space))
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
