"""Threads on SQLite."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from typing import Any, cast

from ...errors import AlreadyExists, NotFound
from ...models import MessageCreate, ThreadCreate
from ...timestamps import format_ts, utc_now
from ..base import (
    PURGE_BATCH,
    THREAD_COLUMNS_UPDATABLE,
    PageSlice,
    ThreadMutation,
    ThreadQuery,
    expiry_of,
    keyset_plan,
    requested_expiry,
    slice_page,
)
from ..idempotent import take_write
from ..matching import filter_terms, fold, search_columns
from ..rows import MessageRow, ThreadRow, changed, new_thread_row
from .access import is_replay, record_result, recorded_replay
from .connection import LIVE, SQLiteBase, _dumps, _now
from .messages import _insert_messages
from .rows import THREAD_COLUMNS, thread_row

__all__ = ["ThreadStoreMixin"]

_JSON_COLUMNS = frozenset({"metadata", "role_mapping", "metadata_terms"})


def _live_count(expiries: list[tuple[str | None]], now: str) -> int:
    """How many of the deleted threads (their ``expires_at``) had not expired."""
    return sum(1 for (at,) in expiries if at is None or at > now)


class ThreadStoreMixin(SQLiteBase):
    # threads ----------------------------------------------------------------------------

    async def create_thread(
        self,
        space_id: str,
        thread_id: str,
        thread: ThreadCreate,
        messages: Sequence[MessageCreate],
    ) -> tuple[ThreadRow, list[MessageRow]]:
        moment = utc_now()
        now = format_ts(moment)
        version = 0 if thread.state is None else 1
        role_mapping = {k: v.model_dump() for k, v in thread.role_mapping.items()}
        write = take_write()
        with self._writing() as db:
            replay = recorded_replay(db, write)
            if is_replay(replay):
                return cast(tuple[ThreadRow, list[MessageRow]], tuple(replay))
            space = db.execute(
                "SELECT default_thread_ttl_seconds FROM spaces WHERE id = ?", (space_id,)
            ).fetchone()
            if space is None:
                raise NotFound(f"space {space_id!r} does not exist")
            expiry = requested_expiry(moment, thread) or expiry_of(moment, space[0])
            expires_at = format_ts(expiry) if expiry is not None else None
            search = search_columns({"title": thread.title, "metadata": thread.metadata})
            values = (
                space_id,
                thread_id,
                thread.title,
                thread.owner_id,
                thread.public,
                _dumps(thread.metadata),
                _dumps(thread.state),
                version,
                now if version else None,
                _dumps(role_mapping),
                len(messages),
                len(messages),
                now,
                now,
                expires_at,
                search["title_folded"],
                _dumps(search["metadata_terms"]),
            )
            insert = (
                "INSERT INTO threads (space_id, id, title, owner_id, public, status, metadata,"
                " state, state_version, state_updated_at, role_mapping, message_count,"
                " last_seq, created_at, updated_at, expires_at, title_folded, metadata_terms)"
                " VALUES (?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            )
            try:
                cur = db.execute(insert, values)
            except sqlite3.IntegrityError as exc:
                # The id may belong to a thread that expired and is not swept yet: it is
                # gone, so the id is free.
                gone = db.execute(
                    "DELETE FROM threads WHERE space_id = ? AND id = ? AND expires_at <= ?",
                    (space_id, thread_id, now),
                )
                if gone.rowcount == 0:
                    raise AlreadyExists(f"thread {thread_id!r} already exists") from exc
                cur = db.execute(insert, values)
            pk = cur.lastrowid
            assert pk is not None
            stored = _insert_messages(db, pk, thread_id, 0, messages, now)
            row = new_thread_row(
                space_id,
                thread_id,
                thread,
                state_version=version,
                role_mapping=role_mapping,
                message_count=len(stored),
                now=now,
                expires_at=expires_at,
            )
            return record_result(db, write, (row, stored))

    async def get_thread(self, space_id: str, thread_id: str) -> ThreadRow | None:
        with self._reading() as db:
            r = db.execute(
                f"SELECT {THREAD_COLUMNS} FROM threads WHERE space_id = ? AND id = ? AND {LIVE}",
                (space_id, thread_id, _now()),
            ).fetchone()
        return thread_row(r) if r else None

    async def list_threads(self, space_id: str, query: ThreadQuery) -> PageSlice[ThreadRow]:
        plan = keyset_plan(
            query.order, has_after=query.after is not None, has_before=query.before is not None
        )
        where: list[str] = ["space_id = ?", LIVE]
        args: list[Any] = [space_id, _now()]
        if query.status != "all":
            where.append("status = ?")
            args.append(query.status)
        if query.owner_id is not None:
            where.append("owner_id = ?")
            args.append(query.owner_id)
        if query.title is not None:
            where.append("title = ?")
            args.append(query.title)
        if query.public is not None:
            where.append("public = ?")
            args.append(query.public)
        # The stored match columns: see store/matching.py for what matches what.
        for key, value in query.metadata:
            terms = filter_terms(value)
            where.append(
                "EXISTS (SELECT 1 FROM json_each(metadata_terms) WHERE key = ?"
                f" AND value IN ({', '.join('?' * len(terms))}))"
            )
            args.extend((key, *terms))
        if query.q:
            where.append("instr(title_folded, ?) > 0")
            args.append(fold(query.q))
        cursor = query.before if query.before is not None else query.after
        column = query.order_by
        if plan.op and cursor is not None:
            where.append(f"({column}, id) {plan.op} (?, ?)")
            args.extend(cursor)
        sql = (
            f"SELECT {THREAD_COLUMNS} FROM threads WHERE {' AND '.join(where)}"
            f" ORDER BY {column} {plan.direction}, id {plan.direction} LIMIT ?"
        )
        with self._reading() as db:
            rows = [thread_row(r) for r in db.execute(sql, (*args, query.limit + 1))]
        return slice_page(rows, query.limit, plan)

    async def update_thread(
        self, space_id: str, thread_id: str, mutate: ThreadMutation
    ) -> ThreadRow | None:
        with self._writing() as db:
            r = db.execute(
                f"SELECT {THREAD_COLUMNS} FROM threads WHERE space_id = ? AND id = ? AND {LIVE}",
                (space_id, thread_id, _now()),
            ).fetchone()
            if r is None:
                return None
            row = thread_row(r)
            changes = mutate(row)
            if not changes:
                return row
            assert set(changes) <= THREAD_COLUMNS_UPDATABLE, set(changes)
            changes["updated_at"] = _now()
            stored = {**changes, **search_columns(changes)}
            sets = ", ".join(f"{column} = ?" for column in stored)
            values = [_dumps(v) if k in _JSON_COLUMNS else v for k, v in stored.items()]
            db.execute(f"UPDATE threads SET {sets} WHERE pk = ?", (*values, r[0]))
        return changed(row, changes)

    async def purge_thread(self, space_id: str, thread_id: str) -> bool:
        now = _now()
        with self._writing() as db:
            # An expired thread is deleted too, but it was missing already.
            gone = db.execute(
                "DELETE FROM threads WHERE space_id = ? AND id = ? RETURNING expires_at",
                (space_id, thread_id),
            ).fetchall()
        return _live_count(gone, now) > 0

    async def purge_owner(self, space_id: str, owner_id: str) -> int:
        deleted = 0
        while True:
            now = _now()
            with self._writing() as db:
                gone = db.execute(
                    "DELETE FROM threads WHERE pk IN (SELECT pk FROM threads"
                    " WHERE space_id = ? AND owner_id = ? LIMIT ?) RETURNING expires_at",
                    (space_id, owner_id, PURGE_BATCH),
                ).fetchall()
            deleted += _live_count(gone, now)
            if not gone:
                return deleted
            await asyncio.sleep(0)  # let other requests run between two batches

    async def sweep_expired(self, limit: int) -> int:
        with self._writing() as db:
            cur = db.execute(
                "DELETE FROM threads WHERE pk IN (SELECT pk FROM threads"
                " WHERE expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at LIMIT ?)",
                (_now(), limit),
            )
            return cur.rowcount
