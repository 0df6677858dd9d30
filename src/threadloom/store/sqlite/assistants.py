"""Assistants on SQLite."""

from __future__ import annotations

import sqlite3
from typing import Any, cast

from ...errors import AlreadyExists, NotFound
from ..base import (
    ASSISTANT_COLUMNS,
    ASSISTANT_COLUMNS_UPDATABLE,
    UNLOCKABLE_ASSISTANTS_MAX,
    AssistantMutation,
    PageSlice,
    keyset_plan,
    slice_page,
)
from ..idempotent import take_write
from ..rows import AssistantFields, AssistantRow, changed, new_assistant_row
from .access import is_replay, record_result, recorded_replay
from .connection import SQLiteBase, _dumps, _now
from .rows import assistant_row

__all__ = ["AssistantStoreMixin"]

_COLUMNS = ", ".join(ASSISTANT_COLUMNS)
_PLACEHOLDERS = ", ".join("?" * len(ASSISTANT_COLUMNS))
_JSON_COLUMNS = frozenset({"grants", "metadata"})


def _taken(exc: sqlite3.IntegrityError, space_id: str, row: AssistantRow) -> AlreadyExists:
    if "assistants.name" in str(exc):
        return AlreadyExists(f"an assistant named {row['name']!r} already exists in {space_id!r}")
    return AlreadyExists(f"assistant {row['id']!r} already exists")


class AssistantStoreMixin(SQLiteBase):
    # assistants -------------------------------------------------------------------------

    async def create_assistant(self, space_id: str, fields: AssistantFields) -> AssistantRow:
        stored = new_assistant_row(space_id, fields, _now())
        columns: dict[str, Any] = {**stored}
        values = [
            _dumps(columns[column]) if column in _JSON_COLUMNS else columns[column]
            for column in ASSISTANT_COLUMNS
        ]
        write = take_write()
        with self._writing() as db:
            replay = recorded_replay(db, write)
            if is_replay(replay):
                return cast(AssistantRow, replay)
            if db.execute("SELECT 1 FROM spaces WHERE id = ?", (space_id,)).fetchone() is None:
                raise NotFound(f"space {space_id!r} does not exist")
            try:
                db.execute(f"INSERT INTO assistants ({_COLUMNS}) VALUES ({_PLACEHOLDERS})", values)
            except sqlite3.IntegrityError as exc:
                raise _taken(exc, space_id, stored) from exc
            return record_result(db, write, stored)

    async def get_assistant(self, space_id: str, assistant_id: str) -> AssistantRow | None:
        with self._reading() as db:
            r = db.execute(
                f"SELECT {_COLUMNS} FROM assistants WHERE space_id = ? AND id = ?",
                (space_id, assistant_id),
            ).fetchone()
        return assistant_row(r) if r else None

    async def list_assistants(
        self,
        space_id: str,
        limit: int,
        after: str | None,
        before: str | None,
        *,
        include_private: bool = True,
        granted_to: str | None = None,
    ) -> PageSlice[AssistantRow]:
        plan = keyset_plan("asc", has_after=after is not None, has_before=before is not None)
        where = ["space_id = ?"]
        args: list[Any] = [space_id]
        if not include_private:
            where.append(
                "(NOT private OR EXISTS (SELECT 1 FROM json_each(assistants.grants)"
                " WHERE json_each.value = ?))"
            )
            args.append(granted_to)
        cursor = before if before is not None else after
        if plan.op and cursor is not None:
            where.append(f"id {plan.op} ?")
            args.append(cursor)
        sql = (
            f"SELECT {_COLUMNS} FROM assistants WHERE {' AND '.join(where)}"
            f" ORDER BY id {plan.direction} LIMIT ?"
        )
        with self._reading() as db:
            rows = [assistant_row(r) for r in db.execute(sql, (*args, limit + 1))]
        return slice_page(rows, limit, plan)

    async def update_assistant(
        self, space_id: str, assistant_id: str, mutate: AssistantMutation
    ) -> AssistantRow | None:
        with self._writing() as db:
            r = db.execute(
                f"SELECT {_COLUMNS} FROM assistants WHERE space_id = ? AND id = ?",
                (space_id, assistant_id),
            ).fetchone()
            if r is None:
                return None
            row = assistant_row(r)
            changes = mutate(row)
            if not changes:
                return row
            assert set(changes) <= ASSISTANT_COLUMNS_UPDATABLE, set(changes)
            changes["updated_at"] = _now()
            sets = ", ".join(f"{column} = ?" for column in changes)
            values = [_dumps(v) if k in _JSON_COLUMNS else v for k, v in changes.items()]
            try:
                db.execute(
                    f"UPDATE assistants SET {sets} WHERE space_id = ? AND id = ?",
                    (*values, space_id, assistant_id),
                )
            except sqlite3.IntegrityError as exc:
                raise _taken(exc, space_id, changed(row, changes)) from exc
        return changed(row, changes)

    async def delete_assistant(self, space_id: str, assistant_id: str) -> bool:
        with self._writing() as db:
            cur = db.execute(
                "DELETE FROM assistants WHERE space_id = ? AND id = ?", (space_id, assistant_id)
            )
            return cur.rowcount > 0

    async def list_unlockable_assistants(self, space_id: str) -> list[AssistantRow]:
        with self._reading() as db:
            return [
                assistant_row(r)
                for r in db.execute(
                    f"SELECT {_COLUMNS} FROM assistants WHERE space_id = ? AND private"
                    " AND unlock_hash IS NOT NULL ORDER BY id LIMIT ?",
                    (space_id, UNLOCKABLE_ASSISTANTS_MAX),
                )
            ]
