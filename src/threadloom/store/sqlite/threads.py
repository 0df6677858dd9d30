"""Threads on SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from ...errors import AlreadyExists, NotFound
from ...models import MessageCreate, ThreadCreate
from ..base import (
    THREAD_COLUMNS_UPDATABLE,
    PageSlice,
    Row,
    ThreadMutation,
    ThreadQuery,
    keyset_plan,
    like_pattern,
    new_thread_row,
    slice_page,
)
from .connection import SQLiteBase, _dumps, _loads, _now
from .messages import _insert_messages

__all__ = ["ThreadStoreMixin"]

_THREAD_COLUMNS = (
    "pk, space_id, id, title, owner_id, public, status, metadata, state, state_version,"
    " role_mapping, message_count, created_at, updated_at, archived_at"
)
_JSON_COLUMNS = frozenset({"metadata", "role_mapping"})


def _thread(r: Sequence[Any]) -> Row:
    return {
        "object": "thread",
        "id": r[2],
        "space_id": r[1],
        "title": r[3],
        "owner_id": r[4],
        "public": bool(r[5]),
        "status": r[6],
        "metadata": _loads(r[7]),
        "state": _loads(r[8]) if r[8] is not None else None,
        "state_version": r[9],
        "role_mapping": _loads(r[10]),
        "message_count": r[11],
        "created_at": r[12],
        "updated_at": r[13],
        "archived_at": r[14],
    }


class ThreadStoreMixin(SQLiteBase):
    # threads ----------------------------------------------------------------------------

    async def create_thread(
        self,
        space_id: str,
        thread_id: str,
        thread: ThreadCreate,
        messages: Sequence[MessageCreate],
    ) -> tuple[Row, list[Row]]:
        now = _now()
        version = 0 if thread.state is None else 1
        role_mapping = {k: v.model_dump() for k, v in thread.role_mapping.items()}
        with self._writing() as db:
            if db.execute("SELECT 1 FROM spaces WHERE id = ?", (space_id,)).fetchone() is None:
                raise NotFound(f"space {space_id!r} does not exist")
            try:
                cur = db.execute(
                    "INSERT INTO threads (space_id, id, title, owner_id, public, status, metadata,"
                    " state, state_version, state_updated_at, role_mapping, message_count,"
                    " last_seq, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
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
                    ),
                )
            except sqlite3.IntegrityError as exc:
                raise AlreadyExists(f"thread {thread_id!r} already exists") from exc
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
        )
        return row, stored

    async def get_thread(self, space_id: str, thread_id: str) -> Row | None:
        with self._reading() as db:
            r = db.execute(
                f"SELECT {_THREAD_COLUMNS} FROM threads WHERE space_id = ? AND id = ?",
                (space_id, thread_id),
            ).fetchone()
        return _thread(r) if r else None

    async def list_threads(self, space_id: str, query: ThreadQuery) -> PageSlice:
        plan = keyset_plan(
            query.order, has_after=query.after is not None, has_before=query.before is not None
        )
        where: list[str] = ["space_id = ?"]
        args: list[Any] = [space_id]
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
        for key, value in query.metadata:
            path = f'$."{key}"'
            where.append(
                "(CASE json_type(metadata, ?) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'"
                " ELSE CAST(json_extract(metadata, ?) AS TEXT) END) = ?"
            )
            args.extend((path, path, value))
        if query.q:
            where.append("title LIKE ? ESCAPE '\\'")
            args.append(like_pattern(query.q))
        cursor = query.before if query.before is not None else query.after
        column = query.order_by
        if plan.op and cursor is not None:
            where.append(f"({column}, id) {plan.op} (?, ?)")
            args.extend(cursor)
        sql = (
            f"SELECT {_THREAD_COLUMNS} FROM threads WHERE {' AND '.join(where)}"
            f" ORDER BY {column} {plan.direction}, id {plan.direction} LIMIT ?"
        )
        with self._reading() as db:
            rows = [_thread(r) for r in db.execute(sql, (*args, query.limit + 1))]
        return slice_page(rows, query.limit, plan)

    async def update_thread(
        self, space_id: str, thread_id: str, mutate: ThreadMutation
    ) -> Row | None:
        with self._writing() as db:
            r = db.execute(
                f"SELECT {_THREAD_COLUMNS} FROM threads WHERE space_id = ? AND id = ?",
                (space_id, thread_id),
            ).fetchone()
            if r is None:
                return None
            row = _thread(r)
            changes = mutate(row)
            if not changes:
                return row
            assert set(changes) <= THREAD_COLUMNS_UPDATABLE, set(changes)
            changes["updated_at"] = _now()
            sets = ", ".join(f"{column} = ?" for column in changes)
            values = [_dumps(v) if k in _JSON_COLUMNS else v for k, v in changes.items()]
            db.execute(f"UPDATE threads SET {sets} WHERE pk = ?", (*values, r[0]))
        row.update(changes)
        return row

    async def purge_thread(self, space_id: str, thread_id: str) -> bool:
        with self._writing() as db:
            cur = db.execute(
                "DELETE FROM threads WHERE space_id = ? AND id = ?", (space_id, thread_id)
            )
            return cur.rowcount > 0
