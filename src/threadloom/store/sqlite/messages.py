"""Messages and thread state on SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

from ...errors import AlreadyExists, ThreadArchived
from ...ids import new_id
from ...models import MessageCreate
from ..base import (
    MESSAGE_ID_TAKEN,
    MessageQuery,
    PageSlice,
    StateMutation,
    keyset_plan,
    slice_page,
)
from ..batching import AppendItem, AppendResult, StateResult, StateWrite
from ..idempotent import IdempotentWrite, item_failure, take_write
from ..rows import (
    MessageRow,
    StateRow,
    StateVersionRow,
    message_item,
    new_message_rows,
    state_row,
)
from .access import is_replay, record_result, recorded_replay
from .connection import LIVE, SQLiteBase, _dumps, _loads, _now
from .rows import MESSAGE_COLUMNS, message_row, state_version_row

__all__ = ["MessageStoreMixin"]

T = TypeVar("T")


def _insert_messages(
    db: sqlite3.Connection,
    pk: int,
    thread_id: str,
    last_seq: int,
    messages: Sequence[MessageCreate],
    now: str,
) -> list[MessageRow]:
    """Insert a batch numbered after ``last_seq`` in the caller's write transaction (an
    append, or a new thread with its first messages) and return the stored rows. The caller
    has already counted them on the thread row."""
    if not messages:
        return []
    ids = [m.id or new_id("msg") for m in messages]
    seqs = range(last_seq + 1, last_seq + 1 + len(messages))
    items = [message_item(m, message_id) for m, message_id in zip(messages, ids, strict=True)]
    params = [
        (
            message_id,
            pk,
            seq,
            m.role,
            m.content,
            _dumps(m.images),
            m.private,
            _dumps(m.metadata),
            now,
            None if item is None else _dumps(item),
        )
        for message_id, seq, m, item in zip(ids, seqs, messages, items, strict=True)
    ]
    try:
        db.executemany(
            "INSERT INTO messages (id, thread_pk, seq, role, content, images, private, metadata,"
            " created_at, item) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            params,
        )
    except sqlite3.IntegrityError as exc:
        raise AlreadyExists(MESSAGE_ID_TAKEN) from exc
    return new_message_rows(thread_id, ids, seqs, messages, now, items)


def _live_thread_pk(db: sqlite3.Connection, space_id: str, thread_id: str) -> int | None:
    """The key of a thread that exists and has not expired, for a read."""
    r = db.execute(
        f"SELECT pk FROM threads WHERE space_id = ? AND id = ? AND {LIVE}",
        (space_id, thread_id, _now()),
    ).fetchone()
    return None if r is None else int(r[0])


def _append(
    db: sqlite3.Connection,
    space_id: str,
    thread_id: str,
    messages: Sequence[MessageCreate],
    now: str,
) -> list[MessageRow]:
    """An append, in the caller's write transaction."""
    count = len(messages)
    if not messages:
        if SQLiteBase._thread_pk(db, space_id, thread_id, now)[1] != "active":
            raise ThreadArchived(f"thread {thread_id!r} is archived; restore it first")
        return []
    # Count the batch on the thread row and learn its numbers in one statement.
    r = db.execute(
        "UPDATE threads SET last_seq = last_seq + ?, message_count = message_count + ?,"
        " updated_at = ? WHERE space_id = ? AND id = ? AND status = 'active'"
        f" AND {LIVE} RETURNING pk, last_seq",
        (count, count, now, space_id, thread_id, now),
    ).fetchone()
    if r is None:
        SQLiteBase._thread_pk(db, space_id, thread_id, now)  # raises NotFound if it is missing
        raise ThreadArchived(f"thread {thread_id!r} is archived; restore it first")
    return _insert_messages(db, r[0], thread_id, r[1] - count, messages, now)


def _recorded_append(
    db: sqlite3.Connection,
    write: IdempotentWrite | None,
    space_id: str,
    thread_id: str,
    messages: Sequence[MessageCreate],
    now: str,
) -> list[MessageRow]:
    """An append and its key's record, in the caller's write transaction (or the result
    recorded before: nothing is appended again)."""
    replay = recorded_replay(db, write)
    if is_replay(replay):
        return cast(list[MessageRow], replay)
    return record_result(db, write, _append(db, space_id, thread_id, messages, now))


def _write_state(
    db: sqlite3.Connection,
    space_id: str,
    thread_id: str,
    mutate: StateMutation,
    keep_versions: int,
    now: str,
) -> StateRow | None:
    """A state write, in the caller's write transaction; None if the thread is missing."""
    r = db.execute(
        "SELECT pk, status, state, state_version, state_updated_at FROM threads"
        f" WHERE space_id = ? AND id = ? AND {LIVE}",
        (space_id, thread_id, now),
    ).fetchone()
    if r is None:
        return None
    pk, status, old_text, version, old_at = r
    if status != "active":
        raise ThreadArchived(f"thread {thread_id!r} is archived; restore it first")
    new_state = mutate(_loads(old_text) if old_text is not None else None, version)
    if version > 0:
        db.execute(
            "INSERT INTO state_versions (thread_pk, version, state, created_at)"
            " VALUES (?, ?, ?, ?)",
            (pk, version, old_text, old_at or now),
        )
        db.execute(
            "DELETE FROM state_versions WHERE thread_pk = ? AND version <= ?",
            (pk, version - keep_versions),
        )
    db.execute(
        "UPDATE threads SET state = ?, state_version = ?, state_updated_at = ?,"
        " updated_at = ? WHERE pk = ?",
        (_dumps(new_state), version + 1, now, now, pk),
    )
    return state_row(thread_id, new_state, version + 1, now)


class MessageStoreMixin(SQLiteBase):
    # messages ---------------------------------------------------------------------------

    async def append_messages(
        self, space_id: str, thread_id: str, messages: Sequence[MessageCreate]
    ) -> list[MessageRow]:
        now, write = _now(), take_write()
        with self._writing() as db:
            return _recorded_append(db, write, space_id, thread_id, messages, now)

    async def append_item(self, item: AppendItem) -> list[MessageRow]:
        now = _now()
        with self._writing() as db:
            return _recorded_append(
                db, item.write, item.space_id, item.thread_id, item.messages, now
            )

    batch_per_thread = False
    """One writer for the whole file: a batch may mix threads, under one BEGIN/COMMIT."""
    data_errors: tuple[type[Exception], ...] = ()

    async def append_batch(self, items: Sequence[AppendItem]) -> list[AppendResult]:
        return self._batch(
            items,
            lambda db, item, now: _recorded_append(
                db, item.write, item.space_id, item.thread_id, item.messages, now
            ),
        )

    async def write_state_batch(self, items: Sequence[StateWrite]) -> list[StateResult]:
        return self._batch(
            items,
            lambda db, item, now: _write_state(
                db, item.space_id, item.thread_id, item.mutate, item.keep_versions, now
            ),
        )

    def _batch(
        self, items: Sequence[T], write: Callable[[sqlite3.Connection, T, str], Any]
    ) -> list[Any]:
        """The items written in one transaction, each inside a savepoint of its own: an item
        that fails, whatever the error, is rolled back alone (its effect with its key's
        record) and answered with its error (see ``item_failure``)."""
        now = _now()
        if len(items) == 1:  # nothing to keep apart
            try:
                with self._writing() as db:
                    return [write(db, items[0], now)]
            except Exception as exc:
                return [item_failure(exc)]
        results: list[Any] = []
        with self._writing() as db:
            for item in items:
                db.execute("SAVEPOINT item")
                try:
                    results.append(write(db, item, now))
                except Exception as exc:
                    db.execute("ROLLBACK TO item")
                    results.append(item_failure(exc))
                db.execute("RELEASE item")
        return results

    async def list_messages(
        self, space_id: str, thread_id: str, query: MessageQuery
    ) -> PageSlice[MessageRow] | None:
        plan = keyset_plan(
            query.order,
            has_after=query.after_seq is not None,
            has_before=query.before_seq is not None,
        )
        with self._reading() as db:
            pk = _live_thread_pk(db, space_id, thread_id)
            if pk is None:
                return None
            where: list[str] = ["thread_pk = ?"]
            args: list[Any] = [pk]
            cursor = query.before_seq if query.before_seq is not None else query.after_seq
            if plan.op and cursor is not None:
                where.append(f"seq {plan.op} ?")
                args.append(cursor)
            if not query.include_private:
                where.append("private = 0")
            if query.role is not None:
                where.append("role = ?")
                args.append(query.role)
            sql = (
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE {' AND '.join(where)}"
                f" ORDER BY seq {plan.direction} LIMIT ?"
            )
            rows = [message_row(m, thread_id) for m in db.execute(sql, (*args, query.limit + 1))]
        return slice_page(rows, query.limit, plan)

    async def get_message(
        self, space_id: str, thread_id: str, message_id: str
    ) -> MessageRow | None:
        with self._reading() as db:
            pk = _live_thread_pk(db, space_id, thread_id)
            if pk is None:
                return None
            m = db.execute(
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE thread_pk = ? AND id = ?",
                (pk, message_id),
            ).fetchone()
        return None if m is None else message_row(m, thread_id)

    async def delete_message(
        self, space_id: str, thread_id: str, message_id: str
    ) -> MessageRow | None:
        now = _now()
        with self._writing() as db:
            pk, status = self._thread_pk(db, space_id, thread_id, now)
            if status != "active":
                raise ThreadArchived(f"thread {thread_id!r} is archived; restore it first")
            m = db.execute(
                f"DELETE FROM messages WHERE thread_pk = ? AND id = ? RETURNING {MESSAGE_COLUMNS}",
                (pk, message_id),
            ).fetchone()
            if m is None:
                return None
            db.execute(
                "UPDATE threads SET message_count = message_count - 1, updated_at = ? WHERE pk = ?",
                (now, pk),
            )
        return message_row(m, thread_id)

    # state ------------------------------------------------------------------------------

    async def get_state(self, space_id: str, thread_id: str) -> StateRow | None:
        with self._reading() as db:
            r = db.execute(
                "SELECT state, state_version, state_updated_at FROM threads"
                f" WHERE space_id = ? AND id = ? AND {LIVE}",
                (space_id, thread_id, _now()),
            ).fetchone()
        if r is None:
            return None
        state = _loads(r[0]) if r[0] is not None else None
        return state_row(thread_id, state, r[1], r[2])

    async def write_state(
        self, space_id: str, thread_id: str, mutate: StateMutation, keep_versions: int
    ) -> StateRow | None:
        now = _now()
        with self._writing() as db:
            return _write_state(db, space_id, thread_id, mutate, keep_versions, now)

    async def list_state_versions(
        self,
        space_id: str,
        thread_id: str,
        limit: int,
        after_version: int | None,
        before_version: int | None,
    ) -> PageSlice[StateVersionRow] | None:
        # Newest first: "after" walks towards older versions.
        plan = keyset_plan(
            "desc", has_after=after_version is not None, has_before=before_version is not None
        )
        with self._reading() as db:
            pk = _live_thread_pk(db, space_id, thread_id)
            if pk is None:
                return None
            sql = "SELECT version, state, created_at FROM state_versions WHERE thread_pk = ?"
            args: list[Any] = [pk]
            cursor = before_version if before_version is not None else after_version
            if plan.op and cursor is not None:
                sql += f" AND version {plan.op} ?"
                args.append(cursor)
            sql += f" ORDER BY version {plan.direction} LIMIT ?"
            rows = [state_version_row(*r) for r in db.execute(sql, (*args, limit + 1))]
        return slice_page(rows, limit, plan)
