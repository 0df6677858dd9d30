"""Messages and thread state on PostgreSQL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import asyncpg

from ...errors import AlreadyExists, NotFound, ServiceUnavailable, ThreadArchived
from ...ids import new_id
from ...models import MessageCreate
from ...timestamps import format_ts, utc_now
from ..base import (
    MESSAGE_ID_TAKEN,
    MessageQuery,
    PageSlice,
    StateMutation,
    keyset_plan,
    slice_page,
)
from ..batching import (
    AppendItem,
    AppendResult,
    StateResult,
    StateWrite,
    append_one_by_one,
    write_states_one_by_one,
)
from ..idempotent import IdempotentWrite, item_failure, take_write
from ..rows import (
    MessageRow,
    StateRow,
    StateVersionRow,
    message_item,
    new_message_rows,
    state_row,
)
from .connection import Pooled, PostgresBase, Record, _dumps, _live, _ts, _wire_ts
from .recorded import FREE, KeyRecordedMeanwhile, claim_keys, record_results, run_recorded
from .rows import message_row, state_version_row

if TYPE_CHECKING:
    from .connection import Queryable

__all__ = ["MessageStoreMixin"]

_APPEND_SQL = f"""
WITH t AS (
    UPDATE threads
    SET last_seq = last_seq + $3::bigint,
        message_count = message_count + $3::bigint,
        updated_at = $4::timestamptz
    WHERE space_id = $1 AND id = $2 AND status = 'active' AND {_live(4)}
    RETURNING pk, last_seq
)
INSERT INTO messages (id, thread_pk, seq, role, content, images, private, metadata, created_at,
                      item)
SELECT m.id, t.pk, t.last_seq - $3::bigint + m.ord, m.role, m.content, m.images::jsonb,
       m.private, m.metadata::jsonb, $4::timestamptz, m.item::jsonb
FROM t, unnest($5::text[], $6::text[], $7::text[], $8::text[], $9::bool[], $10::text[],
               $11::text[])
    WITH ORDINALITY AS m(id, role, content, images, private, metadata, item, ord)
RETURNING id, seq
"""

_MESSAGE_SELECT = (
    "m.id, m.seq, m.role, m.content, m.images, m.private, m.metadata,"
    f" {_wire_ts('m.created_at')} AS created_at, m.item"
)
"""A message's columns as ``rows.message_row`` reads them (``m`` is the messages table)."""

_STATE_SELECT = (
    "SELECT pk, status, state, state_version, state_updated_at FROM threads"
    f" WHERE space_id = $1 AND id = $2 AND {_live(3)}"
)
"""A thread's state and what writing it needs; a write adds FOR UPDATE when it must lock."""

_WRITE_STATES_SQL = """
WITH saved AS (
    INSERT INTO state_versions (thread_pk, version, state, created_at)
    SELECT $1, v.version, v.state::jsonb, v.created_at
    FROM unnest($2::integer[], $3::text[], $4::timestamptz[]) AS v(version, state, created_at)
    WHERE v.version > 0 AND v.version > $5::integer
    ON CONFLICT DO NOTHING
), pruned AS (
    DELETE FROM state_versions WHERE thread_pk = $1 AND version <= $5::integer
)
UPDATE threads
SET state = $6::jsonb, state_version = $7::integer, state_updated_at = $8::timestamptz,
    updated_at = $8::timestamptz
WHERE pk = $1
"""
"""The writes of a batch, after the thread's row was locked: every version they replace
goes to the history (unless pruning would drop it at once), then the last state is set."""

_WRITE_STATE_SQL = """
WITH saved AS (
    INSERT INTO state_versions (thread_pk, version, state, created_at)
    SELECT pk, state_version, state, coalesce(state_updated_at, $3::timestamptz)
    FROM threads
    WHERE pk = $1 AND state_version = $5::integer AND state_version > 0
        AND state_version > $4::integer
    ON CONFLICT DO NOTHING
), pruned AS (
    DELETE FROM state_versions WHERE thread_pk = $1 AND version <= $4::integer
)
UPDATE threads
SET state = $2::jsonb, state_version = state_version + 1, state_updated_at = $3::timestamptz,
    updated_at = $3::timestamptz
WHERE pk = $1 AND state_version = $5::integer AND status = 'active'
"""


def _target(item: AppendItem) -> tuple[str, str, Sequence[MessageCreate]]:
    return item.space_id, item.thread_id, item.messages


def _merged(items: Sequence[AppendItem]) -> tuple[str, str, list[MessageCreate]]:
    """The appends of a batch (all to one thread) as one."""
    first = items[0]
    return first.space_id, first.thread_id, [m for item in items for m in item.messages]


def _split(items: Sequence[AppendItem], rows: list[MessageRow]) -> list[Any]:
    """The rows of a merged append, given back to the appends they came from."""
    parts: list[Any] = []
    start = 0
    for item in items:
        parts.append(rows[start : start + len(item.messages)])
        start += len(item.messages)
    return parts


class MessageArrays(NamedTuple):
    """New messages as the arrays an ``unnest`` reads (``params``, in its column order:
    id, role, content, images, private, metadata, item), with their ids and items."""

    ids: list[str]
    items: list[dict[str, Any] | None]
    params: tuple[list[Any], ...]


def message_arrays(messages: Sequence[MessageCreate]) -> MessageArrays:
    ids = [m.id or new_id("msg") for m in messages]
    items = [message_item(m, message_id) for m, message_id in zip(messages, ids, strict=True)]
    params = (
        ids,
        [m.role for m in messages],
        [m.content for m in messages],
        [_dumps(m.images) for m in messages],
        [m.private for m in messages],
        [_dumps(m.metadata) for m in messages],
        [None if item is None else _dumps(item) for item in items],
    )
    return MessageArrays(ids, items, params)


class MessageStoreMixin(PostgresBase):
    # messages ---------------------------------------------------------------------------

    async def _writable_thread(self, space_id: str, thread_id: str) -> bool:
        """Raise NotFound or ThreadArchived; True when the thread is (now) active."""
        status = await self._fetchval(
            f"SELECT status FROM threads WHERE space_id = $1 AND id = $2 AND {_live(3)}",
            space_id,
            thread_id,
            utc_now(),
        )
        if status is None:
            raise NotFound(f"thread {thread_id!r} does not exist")
        if status != "active":
            raise ThreadArchived(f"thread {thread_id!r} is archived; restore it first")
        return True

    async def _append(
        self, db: Queryable, space_id: str, thread_id: str, messages: Sequence[MessageCreate]
    ) -> list[MessageRow]:
        """An append as one statement on ``db`` (the pool, or a transaction's connection)."""
        if not messages:
            await self._writable_thread(space_id, thread_id)
            return []
        arrays = message_arrays(messages)
        while True:
            now = utc_now()
            try:
                rows = await db.fetch(
                    _APPEND_SQL, space_id, thread_id, len(messages), now, *arrays.params
                )
            except asyncpg.UniqueViolationError as exc:
                raise AlreadyExists(MESSAGE_ID_TAKEN) from exc
            if rows:
                break
            # Nothing inserted: the thread is missing or archived (this raises), or it was
            # restored between the two statements, in which case append again.
            await self._writable_thread(space_id, thread_id)
        seq_of = {r[0]: r[1] for r in rows}
        seqs = [seq_of[message_id] for message_id in arrays.ids]
        return new_message_rows(thread_id, arrays.ids, seqs, messages, format_ts(now), arrays.items)

    async def append_messages(
        self, space_id: str, thread_id: str, messages: Sequence[MessageCreate]
    ) -> list[MessageRow]:
        return await self.append_item(AppendItem(space_id, thread_id, messages, take_write()))

    async def append_item(self, item: AppendItem) -> list[MessageRow]:
        """Without a key: one statement. Under a key: that statement and the key's record in
        one transaction (see ``recorded``)."""
        if item.write is None:
            return await self._append(Pooled(self), *_target(item))
        return await self._queried(
            run_recorded(
                self._transaction,
                item.write,
                lambda conn: self._append(conn, *_target(item)),
            )
        )

    batch_per_thread = True
    """Appends to one thread wait for each other's row lock, so they are what to group;
    appends to different threads are written at once, on connections of their own."""
    data_errors: tuple[type[Exception], ...] = (asyncpg.DataError,)
    """A NUL in text, a character the database's encoding lacks, a number out of range."""

    async def append_batch(self, items: Sequence[AppendItem]) -> list[AppendResult]:
        """Appends to one thread as one statement: one commit (and one WAL flush) for all,
        with the records of the keyed ones in the same transaction. When anything in it
        fails (a message id taken, the thread missing or archived, a value the database
        refuses), each append runs alone, so the error goes to the append that caused it."""
        if len(items) > 1:
            try:
                return await self._queried(self._append_merged(items))
            except ServiceUnavailable:
                raise  # the outcome is unknown: no append may be written twice
            except Exception:  # each append runs alone below, and fails alone
                pass
        return await append_one_by_one(self, items)

    async def _append_merged(self, items: Sequence[AppendItem]) -> list[AppendResult]:
        keyed = [i for i, item in enumerate(items) if item.write is not None]
        if not keyed:
            return _split(items, await self._append(Pooled(self), *_merged(items)))
        while True:
            try:
                async with self._transaction() as conn:
                    writes = [cast(IdempotentWrite, items[i].write) for i in keyed]
                    results: list[Any] = [FREE] * len(items)
                    for i, outcome in zip(keyed, await claim_keys(conn, writes), strict=True):
                        results[i] = outcome
                    todo = [i for i, result in enumerate(results) if result is FREE]
                    if todo:
                        todo_items = [items[i] for i in todo]
                        rows = await self._append(conn, *_merged(todo_items))
                        for i, part in zip(todo, _split(todo_items, rows), strict=True):
                            results[i] = part
                    recorded = [i for i in todo if items[i].write is not None]
                    await record_results(
                        conn,
                        [cast(IdempotentWrite, items[i].write) for i in recorded],
                        [results[i] for i in recorded],
                    )
                    return results
            except KeyRecordedMeanwhile:
                continue

    async def list_messages(
        self, space_id: str, thread_id: str, query: MessageQuery
    ) -> PageSlice[MessageRow] | None:
        plan = keyset_plan(
            query.order,
            has_after=query.after_seq is not None,
            has_before=query.before_seq is not None,
        )
        args: list[Any] = [space_id, thread_id, query.limit + 1, utc_now()]
        where = ["m.thread_pk = t.pk"]
        cursor = query.before_seq if query.before_seq is not None else query.after_seq
        if plan.op and cursor is not None:
            args.append(cursor)
            where.append(f"m.seq {plan.op} ${len(args)}::bigint")
        if not query.include_private:
            where.append("NOT m.private")
        if query.role is not None:
            args.append(query.role)
            where.append(f"m.role = ${len(args)}::text")
        # One round trip: no row means no thread; one row of NULLs means no messages.
        sql = (
            f"SELECT t.pk, p.* FROM threads t LEFT JOIN LATERAL ("
            f"SELECT {_MESSAGE_SELECT}"
            f" FROM messages m WHERE {' AND '.join(where)}"
            f" ORDER BY m.seq {plan.direction} LIMIT $3) p ON true"
            f" WHERE t.space_id = $1 AND t.id = $2 AND {_live(4, 't')}"
            f" ORDER BY p.seq {plan.direction}"
        )
        records = await self._fetch(sql, *args)
        if not records:
            return None
        rows = [message_row(r, thread_id, 1) for r in records if r[1] is not None]
        return slice_page(rows, query.limit, plan)

    async def get_message(
        self, space_id: str, thread_id: str, message_id: str
    ) -> MessageRow | None:
        r = await self._fetchrow(
            f"SELECT {_MESSAGE_SELECT} FROM threads t JOIN messages m ON m.thread_pk = t.pk"
            f" WHERE t.space_id = $1 AND t.id = $2 AND {_live(4, 't')} AND m.id = $3",
            space_id,
            thread_id,
            message_id,
            utc_now(),
        )
        return None if r is None else message_row(r, thread_id)

    async def delete_message(
        self, space_id: str, thread_id: str, message_id: str
    ) -> MessageRow | None:
        now = utc_now()
        async with self._transaction() as db:
            thread = await db.fetchrow(
                "SELECT pk, status FROM threads"
                f" WHERE space_id = $1 AND id = $2 AND {_live(3)} FOR UPDATE",
                space_id,
                thread_id,
                now,
            )
            if thread is None:
                raise NotFound(f"thread {thread_id!r} does not exist")
            if thread["status"] != "active":
                raise ThreadArchived(f"thread {thread_id!r} is archived; restore it first")
            r = await db.fetchrow(
                f"DELETE FROM messages m WHERE m.thread_pk = $1 AND m.id = $2"
                f" RETURNING {_MESSAGE_SELECT}",
                thread["pk"],
                message_id,
            )
            if r is None:
                return None
            await db.execute(
                "UPDATE threads SET message_count = message_count - 1, updated_at = $2"
                " WHERE pk = $1",
                thread["pk"],
                now,
            )
        return message_row(r, thread_id)

    # state ------------------------------------------------------------------------------

    async def get_state(self, space_id: str, thread_id: str) -> StateRow | None:
        r = await self._fetchrow(
            "SELECT state, state_version, state_updated_at FROM threads"
            f" WHERE space_id = $1 AND id = $2 AND {_live(3)}",
            space_id,
            thread_id,
            utc_now(),
        )
        if r is None:
            return None
        return state_row(thread_id, r[0], r[1], _ts(r[2]))

    async def write_state(
        self, space_id: str, thread_id: str, mutate: StateMutation, keep_versions: int
    ) -> StateRow | None:
        # First optimistically: read, compute, then write only if the version is still the
        # one read (two round trips, no transaction held while Python computes). A writer
        # that lost that race does it again under the row lock, so a hot thread does not
        # turn into a storm of retries; either way If-Match and merge patches see the
        # newest state.
        now = utc_now()
        r = await self._fetchrow(_STATE_SELECT, space_id, thread_id, now)
        if r is None:
            return None
        written = await _try_write_state(self._execute, r, thread_id, mutate, keep_versions, now)
        if written is None:
            async with self._transaction() as db:
                now = utc_now()
                r = await db.fetchrow(_STATE_SELECT + " FOR UPDATE", space_id, thread_id, now)
                if r is None:
                    return None
                written = await _try_write_state(
                    db.execute, r, thread_id, mutate, keep_versions, now
                )
                assert written is not None, "the row is locked: the version cannot move"
        return written

    async def write_state_batch(self, items: Sequence[StateWrite]) -> list[StateResult]:
        """Writes to one thread in one transaction: the row is locked once, each write is
        computed from the state the one before it left (a write refused by its mutation
        leaves it as it was), and every replaced version is saved, as if they had run one
        after the other."""
        if len(items) > 1:
            try:
                return await self._write_states_merged(items)
            except ServiceUnavailable:
                raise  # the outcome is unknown
            except Exception:  # each write runs alone below, and fails alone
                pass
        return await write_states_one_by_one(self, items)

    async def _write_states_merged(self, items: Sequence[StateWrite]) -> list[StateResult]:
        first = items[0]
        async with self._transaction() as db:
            now = utc_now()
            r = await db.fetchrow(
                _STATE_SELECT + " FOR UPDATE", first.space_id, first.thread_id, now
            )
            if r is None:
                return [None] * len(items)
            if r[1] != "active":
                archived = f"thread {first.thread_id!r} is archived; restore it first"
                return [ThreadArchived(archived) for _ in items]
            state, version, updated_at = r[2], r[3], r[4] or now
            replaced: list[tuple[int, str, datetime]] = []
            results: list[StateResult] = []
            for item in items:
                try:
                    new_state = item.mutate(state, version)
                    _dumps(new_state)  # a state that cannot be stored fails alone
                except Exception as exc:
                    results.append(item_failure(exc, self.data_errors))
                    continue
                replaced.append((version, _dumps(state), updated_at))
                state, version, updated_at = new_state, version + 1, now
                results.append(state_row(first.thread_id, state, version, format_ts(now)))
            if replaced:
                versions, states, times = zip(*replaced, strict=True)
                cutoff = version - first.keep_versions - 1
                await db.execute(
                    _WRITE_STATES_SQL, r[0], versions, states, times, cutoff, state, version, now
                )
        return results

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
        args: list[Any] = [space_id, thread_id, limit + 1, utc_now()]
        where = "v.thread_pk = t.pk"
        cursor = before_version if before_version is not None else after_version
        if plan.op and cursor is not None:
            args.append(cursor)
            where += f" AND v.version {plan.op} $5::integer"
        sql = (
            "SELECT t.pk, p.version, p.state, p.created_at FROM threads t LEFT JOIN LATERAL ("
            f"SELECT v.version, v.state, v.created_at FROM state_versions v WHERE {where}"
            f" ORDER BY v.version {plan.direction} LIMIT $3) p ON true"
            f" WHERE t.space_id = $1 AND t.id = $2 AND {_live(4, 't')}"
            f" ORDER BY p.version {plan.direction}"
        )
        records = await self._fetch(sql, *args)
        if not records:
            return None
        rows = [state_version_row(r, 1) for r in records if r[1] is not None]
        return slice_page(rows, limit, plan)


async def _try_write_state(
    execute: Callable[..., Awaitable[str]],
    r: Record,
    thread_id: str,
    mutate: StateMutation,
    keep_versions: int,
    now: datetime,
) -> StateRow | None:
    """Write the state computed from row ``r``; None if its version moved meanwhile."""
    pk, status, old_state, version = r[0], r[1], r[2], r[3]
    if status != "active":
        raise ThreadArchived(f"thread {thread_id!r} is archived; restore it first")
    new_state = mutate(old_state, version)
    # Saves the current version (unless pruning would drop it at once), prunes old
    # versions and writes the new state, all in one statement.
    result = await execute(_WRITE_STATE_SQL, pk, new_state, now, version - keep_versions, version)
    if result != "UPDATE 1":
        return None
    return state_row(thread_id, new_state, version + 1, format_ts(now))
