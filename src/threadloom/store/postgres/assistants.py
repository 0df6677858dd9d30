"""Assistants on PostgreSQL."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import asyncpg

from ...errors import AlreadyExists, NotFound
from ...timestamps import format_ts, utc_now
from ..base import (
    ASSISTANT_COLUMNS,
    ASSISTANT_COLUMNS_UPDATABLE,
    UNLOCKABLE_ASSISTANTS_MAX,
    AssistantMutation,
    PageSlice,
    keyset_plan,
    slice_page,
)
from ..rows import AssistantFields, AssistantRow, changed, new_assistant_row

if TYPE_CHECKING:
    from .connection import Queryable

from .connection import PostgresBase, _count
from .rows import assistant_row

__all__ = ["AssistantStoreMixin"]

_COLUMNS = ", ".join(ASSISTANT_COLUMNS)
_NAME_CONSTRAINT = "uq_assistants_space_id_name"


def _taken(exc: asyncpg.UniqueViolationError, space_id: str, row: AssistantRow) -> AlreadyExists:
    if getattr(exc, "constraint_name", None) == _NAME_CONSTRAINT:
        return AlreadyExists(f"an assistant named {row['name']!r} already exists in {space_id!r}")
    return AlreadyExists(f"assistant {row['id']!r} already exists")


class AssistantStoreMixin(PostgresBase):
    # assistants -------------------------------------------------------------------------

    async def create_assistant(self, space_id: str, fields: AssistantFields) -> AssistantRow:
        now = utc_now()
        stored = new_assistant_row(space_id, fields, format_ts(now))
        columns: dict[str, Any] = {**stored}
        values: list[Any] = [columns[column] for column in ASSISTANT_COLUMNS[:-2]]
        placeholders = ", ".join(f"${n}" for n in range(1, len(values) + 3))

        async def effect(db: Queryable) -> AssistantRow:
            try:
                await db.execute(
                    f"INSERT INTO assistants ({_COLUMNS}) VALUES ({placeholders})",
                    *values,
                    now,
                    now,
                )
            except asyncpg.UniqueViolationError as exc:
                raise _taken(exc, space_id, stored) from exc
            except asyncpg.ForeignKeyViolationError as exc:
                raise NotFound(f"space {space_id!r} does not exist") from exc
            return stored

        return await self._created(effect)

    async def get_assistant(self, space_id: str, assistant_id: str) -> AssistantRow | None:
        r = await self._fetchrow(
            f"SELECT {_COLUMNS} FROM assistants WHERE space_id = $1 AND id = $2",
            space_id,
            assistant_id,
        )
        return assistant_row(r) if r is not None else None

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
        args: list[Any] = [space_id]
        where = ["space_id = $1"]
        if not include_private:
            args.append(granted_to)
            where.append(f"(NOT private OR grants ? ${len(args)})")
        cursor = before if before is not None else after
        if plan.op and cursor is not None:
            args.append(cursor)
            where.append(f"id {plan.op} ${len(args)}")
        args.append(limit + 1)
        sql = (
            f"SELECT {_COLUMNS} FROM assistants WHERE {' AND '.join(where)}"
            f" ORDER BY id {plan.direction} LIMIT ${len(args)}"
        )
        rows = [assistant_row(r) for r in await self._fetch(sql, *args)]
        return slice_page(rows, limit, plan)

    async def update_assistant(
        self, space_id: str, assistant_id: str, mutate: AssistantMutation
    ) -> AssistantRow | None:
        try:
            async with self._transaction() as db:
                r = await db.fetchrow(
                    f"SELECT {_COLUMNS} FROM assistants WHERE space_id = $1 AND id = $2 FOR UPDATE",
                    space_id,
                    assistant_id,
                )
                if r is None:
                    return None
                row = assistant_row(r)
                changes = mutate(row)
                if not changes:
                    return row
                assert set(changes) <= ASSISTANT_COLUMNS_UPDATABLE, set(changes)
                now = utc_now()
                columns = [*changes, "updated_at"]
                sets = ", ".join(f"{column} = ${n}" for n, column in enumerate(columns, 3))
                await db.execute(
                    f"UPDATE assistants SET {sets} WHERE space_id = $1 AND id = $2",
                    space_id,
                    assistant_id,
                    *changes.values(),
                    now,
                )
        except asyncpg.UniqueViolationError as exc:
            raise _taken(exc, space_id, changed(row, changes)) from exc
        return changed(row, {**changes, "updated_at": format_ts(now)})

    async def delete_assistant(self, space_id: str, assistant_id: str) -> bool:
        status = await self._execute(
            "DELETE FROM assistants WHERE space_id = $1 AND id = $2", space_id, assistant_id
        )
        return _count(status) > 0

    async def list_unlockable_assistants(self, space_id: str) -> list[AssistantRow]:
        return [
            assistant_row(r)
            for r in await self._fetch(
                f"SELECT {_COLUMNS} FROM assistants WHERE space_id = $1 AND private"
                " AND unlock_hash IS NOT NULL ORDER BY id LIMIT $2",
                space_id,
                UNLOCKABLE_ASSISTANTS_MAX,
            )
        ]
