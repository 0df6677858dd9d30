"""Threads on PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import asyncpg

from ...errors import AlreadyExists, NotFound
from ...models import MessageCreate, ThreadCreate
from ...timestamps import format_ts, parse_ts, utc_now
from ..base import (
    MESSAGE_ID_CONSTRAINT,
    MESSAGE_ID_TAKEN,
    PURGE_BATCH,
    THREAD_COLUMNS_UPDATABLE,
    PageSlice,
    ThreadMutation,
    ThreadQuery,
    keyset_plan,
    requested_expiry,
    slice_page,
)
from ..idempotent import take_write
from ..matching import filter_terms, fold, search_columns
from ..rows import MessageRow, ThreadRow, changed, new_message_rows, new_thread_row
from .connection import Pooled, PostgresBase, Record, _count, _live, _wire_ts
from .messages import message_arrays
from .recorded import run_recorded
from .rows import THREAD_COLUMNS, thread_row

if TYPE_CHECKING:
    from .connection import Connection, Queryable

__all__ = ["ThreadStoreMixin"]

_TIMESTAMP_COLUMNS = frozenset({"archived_at", "expires_at"})

# One statement: the thread (reading its space's default time to live on the way, which
# also tells a missing space: no row) and its first messages. It answers the expiry.
_CREATE_THREAD_SQL = f"""
WITH t AS (
    INSERT INTO threads (space_id, id, title, owner_id, public, status, metadata, state,
                         state_version, state_updated_at, role_mapping, message_count,
                         last_seq, created_at, updated_at, expires_at, title_folded,
                         metadata_terms)
    SELECT s.id, $2::text, $3::text, $4::text, $5::boolean, 'active', $6::jsonb, $7::jsonb,
           $8::integer, $9::timestamptz, $10::jsonb, $11::bigint, $11::bigint,
           $12::timestamptz, $12::timestamptz,
           coalesce($20::timestamptz,
                    $12::timestamptz + make_interval(secs => s.default_thread_ttl_seconds)),
           $21::text, $22::jsonb
    FROM spaces s WHERE s.id = $1::text
    RETURNING pk, expires_at
), first_messages AS (
    INSERT INTO messages (id, thread_pk, seq, role, content, images, private, metadata,
                          created_at, item)
    SELECT m.id, t.pk, m.ord, m.role, m.content, m.images::jsonb, m.private,
           m.metadata::jsonb, $12::timestamptz, m.item::jsonb
    FROM t, unnest($13::text[], $14::text[], $15::text[], $16::text[], $17::bool[],
                   $18::text[], $19::text[])
        WITH ORDINALITY AS m(id, role, content, images, private, metadata, item, ord)
)
SELECT {_wire_ts("t.expires_at")} FROM t
"""


def _thread_value(column: str, value: Any) -> Any:
    """A column value from a mutation callback, as asyncpg takes it."""
    if column in _TIMESTAMP_COLUMNS and isinstance(value, str):
        return parse_ts(value)
    return value


def _wire_value(column: str, value: Any) -> Any:
    """A column value from a mutation callback, as the returned row shows it."""
    if column in _TIMESTAMP_COLUMNS and isinstance(value, datetime):
        return format_ts(value)
    return value


async def _attempt(db: Queryable, sql: str, args: Sequence[Any]) -> Record | None:
    """A statement that may fail and be followed by others: on a transaction's connection
    it runs in a savepoint, so that its failure leaves the transaction usable."""
    if isinstance(db, Pooled):
        return await db.fetchrow(sql, *args)
    async with db.transaction():
        return await db.fetchrow(sql, *args)


class ThreadStoreMixin(PostgresBase):
    # threads ----------------------------------------------------------------------------

    async def create_thread(
        self,
        space_id: str,
        thread_id: str,
        thread: ThreadCreate,
        messages: Sequence[MessageCreate],
    ) -> tuple[ThreadRow, list[MessageRow]]:
        write = take_write()
        if write is None:
            return await self._create_thread(Pooled(self), space_id, thread_id, thread, messages)

        async def effect(conn: Connection) -> tuple[ThreadRow, list[MessageRow]]:
            return await self._create_thread(conn, space_id, thread_id, thread, messages)

        created = await self._queried(run_recorded(self._transaction, write, effect))
        return cast(tuple[ThreadRow, list[MessageRow]], tuple(created))

    async def _create_thread(
        self,
        db: Queryable,
        space_id: str,
        thread_id: str,
        thread: ThreadCreate,
        messages: Sequence[MessageCreate],
    ) -> tuple[ThreadRow, list[MessageRow]]:
        """A new thread and its first messages as one statement on ``db`` (the pool, or a
        transaction's connection)."""
        now = utc_now()
        version = 0 if thread.state is None else 1
        role_mapping = {k: v.model_dump() for k, v in thread.role_mapping.items()}
        arrays = message_arrays(messages)
        search = search_columns({"title": thread.title, "metadata": thread.metadata})
        args = (
            space_id,
            thread_id,
            thread.title,
            thread.owner_id,
            thread.public,
            thread.metadata,
            thread.state,
            version,
            now if version else None,
            role_mapping,
            len(messages),
            now,
            *arrays.params,
            requested_expiry(now, thread),
            search["title_folded"],
            search["metadata_terms"],
        )
        try:
            try:
                r = await _attempt(db, _CREATE_THREAD_SQL, args)
            except asyncpg.UniqueViolationError as exc:
                if exc.constraint_name == MESSAGE_ID_CONSTRAINT:
                    raise
                # The id may belong to a thread that expired and is not swept yet: it is
                # gone, so the id is free.
                gone = await db.execute(
                    "DELETE FROM threads WHERE space_id = $1 AND id = $2 AND expires_at <= $3",
                    space_id,
                    thread_id,
                    now,
                )
                if _count(gone) == 0:
                    raise
                r = await db.fetchrow(_CREATE_THREAD_SQL, *args)
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == MESSAGE_ID_CONSTRAINT:
                raise AlreadyExists(MESSAGE_ID_TAKEN) from exc
            raise AlreadyExists(f"thread {thread_id!r} already exists") from exc
        except asyncpg.ForeignKeyViolationError as exc:
            raise NotFound(f"space {space_id!r} does not exist") from exc
        if r is None:
            raise NotFound(f"space {space_id!r} does not exist")
        stamp = format_ts(now)
        stored = new_message_rows(
            thread_id, arrays.ids, range(1, len(messages) + 1), messages, stamp, arrays.items
        )
        row = new_thread_row(
            space_id,
            thread_id,
            thread,
            state_version=version,
            role_mapping=role_mapping,
            message_count=len(stored),
            now=stamp,
            expires_at=r[0],
        )
        return row, stored

    async def get_thread(self, space_id: str, thread_id: str) -> ThreadRow | None:
        r = await self._fetchrow(
            f"SELECT {THREAD_COLUMNS} FROM threads WHERE space_id = $1 AND id = $2 AND {_live(3)}",
            space_id,
            thread_id,
            utc_now(),
        )
        return thread_row(r) if r is not None else None

    async def list_threads(self, space_id: str, query: ThreadQuery) -> PageSlice[ThreadRow]:
        plan = keyset_plan(
            query.order, has_after=query.after is not None, has_before=query.before is not None
        )
        where = ["space_id = $1", _live(2)]
        args: list[Any] = [space_id, utc_now()]
        if query.status != "all":
            args.append(query.status)
            where.append(f"status = ${len(args)}")
        if query.owner_id is not None:
            args.append(query.owner_id)
            where.append(f"owner_id = ${len(args)}")
        if query.title is not None:
            args.append(query.title)
            where.append(f"title = ${len(args)}")
        if query.public is not None:
            args.append(query.public)
            where.append(f"public = ${len(args)}")
        # The stored match columns: see store/matching.py for what matches what.
        for key, value in query.metadata:
            args.extend((key, list(filter_terms(value))))
            where.append(f"metadata_terms ->> ${len(args) - 1}::text = ANY(${len(args)}::text[])")
        if query.q:
            args.append(fold(query.q))
            where.append(f"strpos(title_folded, ${len(args)}::text) > 0")
        cursor = query.before if query.before is not None else query.after
        column = query.order_by
        if plan.op and cursor is not None:
            args.extend((parse_ts(cursor[0]), cursor[1]))
            where.append(
                f"({column}, id) {plan.op} (${len(args) - 1}::timestamptz, ${len(args)}::text)"
            )
        args.append(query.limit + 1)
        sql = (
            f"SELECT {THREAD_COLUMNS} FROM threads WHERE {' AND '.join(where)}"
            f" ORDER BY {column} {plan.direction}, id {plan.direction} LIMIT ${len(args)}"
        )
        rows = [thread_row(r) for r in await self._fetch(sql, *args)]
        return slice_page(rows, query.limit, plan)

    async def update_thread(
        self, space_id: str, thread_id: str, mutate: ThreadMutation
    ) -> ThreadRow | None:
        async with self._transaction() as db:
            r = await db.fetchrow(
                f"SELECT {THREAD_COLUMNS} FROM threads WHERE space_id = $1 AND id = $2"
                f" AND {_live(3)} FOR UPDATE",
                space_id,
                thread_id,
                utc_now(),
            )
            if r is None:
                return None
            row = thread_row(r)
            changes = mutate(row)
            if not changes:
                return row
            assert set(changes) <= THREAD_COLUMNS_UPDATABLE, set(changes)
            now = utc_now()
            stored = {**changes, **search_columns(changes)}
            columns = list(stored)
            values = [_thread_value(c, stored[c]) for c in columns]
            sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(columns, start=1))
            n = len(columns)
            await db.execute(
                f"UPDATE threads SET {sets}, updated_at = ${n + 1} WHERE pk = ${n + 2}",
                *values,
                now,
                r[0],
            )
        shown = {c: _wire_value(c, v) for c, v in changes.items()}
        return changed(row, {**shown, "updated_at": format_ts(now)})

    async def purge_thread(self, space_id: str, thread_id: str) -> bool:
        # An expired thread is deleted too, but it was missing already.
        live = await self._fetchval(
            f"DELETE FROM threads WHERE space_id = $1 AND id = $2 RETURNING {_live(3)}",
            space_id,
            thread_id,
            utc_now(),
        )
        return bool(live)

    async def purge_owner(self, space_id: str, owner_id: str) -> int:
        deleted = 0
        while True:
            gone = await self._fetch(
                "DELETE FROM threads WHERE pk IN (SELECT pk FROM threads"
                " WHERE space_id = $1 AND owner_id = $2 LIMIT $3)"
                f" RETURNING {_live(4)}",
                space_id,
                owner_id,
                PURGE_BATCH,
                utc_now(),
            )
            if not gone:
                return deleted
            deleted += sum(1 for r in gone if r[0])

    async def sweep_expired(self, limit: int) -> int:
        # SKIP LOCKED: several server processes sweep at once without waiting on each other.
        status = await self._execute(
            "DELETE FROM threads WHERE pk IN (SELECT pk FROM threads"
            " WHERE expires_at IS NOT NULL AND expires_at <= $1"
            " ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
            utc_now(),
            limit,
        )
        return _count(status)
