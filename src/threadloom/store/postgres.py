"""The PostgreSQL backend: for several processes or hosts sharing one database.

Plain asyncpg on a connection pool, no ORM on the request path. Statements are prepared and
cached per connection by asyncpg; JSON columns are ``jsonb`` and go through orjson codecs set
up on each new connection; timestamps are ``timestamptz`` and leave as RFC 3339 text
(:func:`format_ts`), exactly as the SQLite backend returns them.

Atomicity without application locks:

* an append is one statement: a CTE bumps ``threads.last_seq`` (whose row lock serializes
  concurrent appends to one thread across every process) and inserts the batch numbered from
  the new value, so sequence numbers are gapless and never collide;
* creating a thread with its first messages is one statement as well;
* read-modify-write operations whose new value is computed in Python (thread and space
  updates, state writes) run in a transaction around ``SELECT ... FOR UPDATE``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import asyncpg
import orjson

from ..errors import AlreadyExists, Conflict, NotFound, ServiceUnavailable, ThreadArchived
from ..ids import new_id
from ..models import MessageCreate, ThreadCreate
from .base import (
    THREAD_COLUMNS_UPDATABLE,
    IdempotencyRecord,
    MessageQuery,
    PageSlice,
    Row,
    StateMutation,
    ThreadMutation,
    ThreadQuery,
    format_ts,
    keyset_plan,
    parse_ts,
    slice_page,
    utc_now,
)

__all__ = ["PostgresStore"]

Record = asyncpg.Record
if TYPE_CHECKING:
    from typing import TypeAlias

    Pool: TypeAlias = asyncpg.Pool[asyncpg.Record]
    Connection: TypeAlias = asyncpg.pool.PoolConnectionProxy[asyncpg.Record]


def _wire_ts(column: str) -> str:
    """A timestamp column formatted by PostgreSQL as the wire's RFC 3339 text. Formatting
    in C costs a fraction of building a datetime and formatting it in Python, which on a
    page of rows is most of the read."""
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""


_THREAD_COLUMNS = (
    "pk, space_id, id, title, owner_id, public, status, metadata, state, state_version,"
    f" role_mapping, message_count, {_wire_ts('created_at')}, {_wire_ts('updated_at')},"
    f" {_wire_ts('archived_at')}"
)
_SPACE_COLUMNS = "id, name, metadata, created_at"
_KEY_COLUMNS = "id, name, role, space_id, prefix, created_at, revoked_at"
_TIMESTAMP_COLUMNS = frozenset({"archived_at"})

# Failures that mean "the database is not there right now", as opposed to a bad query.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    # Wrong credentials or database name: only ever raised while connecting.
    asyncpg.exceptions.InvalidAuthorizationSpecificationError,
    asyncpg.exceptions.InvalidCatalogNameError,
)
_CLOSE_TIMEOUT_SECONDS = 10.0

_APPEND_SQL = """
WITH t AS (
    UPDATE threads
    SET last_seq = last_seq + $3::bigint,
        message_count = message_count + $3::bigint,
        updated_at = $4::timestamptz
    WHERE space_id = $1 AND id = $2 AND status = 'active'
    RETURNING pk, last_seq
)
INSERT INTO messages (id, thread_pk, seq, role, content, images, private, metadata, created_at)
SELECT m.id, t.pk, t.last_seq - $3::bigint + m.ord, m.role, m.content, m.images::jsonb,
       m.private, m.metadata::jsonb, $4::timestamptz
FROM t, unnest($5::text[], $6::text[], $7::text[], $8::text[], $9::bool[], $10::text[])
    WITH ORDINALITY AS m(id, role, content, images, private, metadata, ord)
RETURNING id, seq
"""

_CREATE_THREAD_SQL = """
WITH t AS (
    INSERT INTO threads (space_id, id, title, owner_id, public, status, metadata, state,
                         state_version, state_updated_at, role_mapping, message_count,
                         last_seq, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, 'active', $6::jsonb, $7::jsonb, $8, $9, $10::jsonb,
            $11::bigint, $11::bigint, $12::timestamptz, $12::timestamptz)
    RETURNING pk
)
INSERT INTO messages (id, thread_pk, seq, role, content, images, private, metadata, created_at)
SELECT m.id, t.pk, m.ord, m.role, m.content, m.images::jsonb, m.private, m.metadata::jsonb,
       $12::timestamptz
FROM t, unnest($13::text[], $14::text[], $15::text[], $16::text[], $17::bool[], $18::text[])
    WITH ORDINALITY AS m(id, role, content, images, private, metadata, ord)
"""

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

_IDEMPOTENCY_BEGIN_SQL = """
INSERT INTO idempotency_keys AS k (scope, key, request_hash, status, created_at, locked_until)
VALUES ($1, $2, $3, 'pending', $4::timestamptz, $5::timestamptz)
ON CONFLICT (scope, key) DO UPDATE SET locked_until = EXCLUDED.locked_until
WHERE k.status = 'pending' AND k.locked_until < $4::timestamptz
    AND k.request_hash = EXCLUDED.request_hash
RETURNING 1
"""


async def _keep_session(_connection: asyncpg.Connection[asyncpg.Record]) -> None:
    """Returning a connection to the pool skips asyncpg's default reset query (``RESET ALL``,
    ``UNLISTEN *``, ...): one round trip per request for nothing, since this store never
    changes session state. An open transaction is still rolled back by asyncpg itself."""


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _ts(value: datetime | None) -> str | None:
    return format_ts(value) if value is not None else None


def _count(status: str) -> int:
    """Rows touched, from a command tag such as ``DELETE 3``."""
    return int(status.rsplit(" ", 1)[-1])


def _thread(r: Record) -> Row:
    return {
        "object": "thread",
        "id": r[2],
        "space_id": r[1],
        "title": r[3],
        "owner_id": r[4],
        "public": r[5],
        "status": r[6],
        "metadata": r[7],
        "state": r[8],
        "state_version": r[9],
        "role_mapping": r[10],
        "message_count": r[11],
        "created_at": r[12],
        "updated_at": r[13],
        "archived_at": r[14],
    }


def _message(r: Record, thread_id: str, offset: int = 0) -> Row:
    return {
        "object": "message",
        "id": r[offset],
        "thread_id": thread_id,
        "seq": r[offset + 1],
        "role": r[offset + 2],
        "content": r[offset + 3],
        "images": r[offset + 4],
        "private": r[offset + 5],
        "metadata": r[offset + 6],
        "created_at": r[offset + 7],
    }


def _space(r: Record) -> Row:
    return {
        "object": "space",
        "id": r[0],
        "name": r[1],
        "metadata": r[2],
        "created_at": format_ts(r[3]),
    }


def _key(r: Record) -> Row:
    return {
        "object": "api_key",
        "id": r[0],
        "name": r[1],
        "role": r[2],
        "space_id": r[3],
        "prefix": r[4],
        "created_at": format_ts(r[5]),
        "revoked_at": _ts(r[6]),
    }


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _message_arrays(
    messages: Sequence[MessageCreate],
) -> tuple[list[str], list[str], list[str], list[str], list[bool], list[str]]:
    return (
        [new_id("msg") for _ in messages],
        [m.role for m in messages],
        [m.content for m in messages],
        [_dumps(m.images) for m in messages],
        [m.private for m in messages],
        [_dumps(m.metadata) for m in messages],
    )


def _stored_messages(
    thread_id: str,
    ids: Sequence[str],
    seqs: Sequence[int],
    messages: Sequence[MessageCreate],
    now: str,
) -> list[Row]:
    return [
        {
            "object": "message",
            "id": message_id,
            "thread_id": thread_id,
            "seq": seq,
            "role": m.role,
            "content": m.content,
            "images": m.images,
            "private": m.private,
            "metadata": m.metadata,
            "created_at": now,
        }
        for message_id, seq, m in zip(ids, seqs, messages, strict=True)
    ]


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


async def _init_connection(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    for typename in ("jsonb", "json"):
        await conn.set_type_codec(
            typename, encoder=_dumps, decoder=orjson.loads, schema="pg_catalog"
        )


def _unavailable(exc: BaseException) -> ServiceUnavailable:
    # The DSN (and any password in it) never goes into the message.
    detail = str(exc).strip()
    reason = type(exc).__name__ + (f": {detail}" if detail else "")
    return ServiceUnavailable(f"PostgreSQL is unavailable ({reason})")


class PostgresStore:
    backend = "postgres"

    def __init__(self, dsn: str, *, pool_size: int = 16) -> None:
        self._dsn = dsn
        self._pool_size = pool_size
        self._pool: Pool | None = None

    def __repr__(self) -> str:
        return f"PostgresStore(pool_size={self._pool_size})"

    # lifecycle --------------------------------------------------------------------------

    async def open(self) -> None:
        if self._pool is not None:
            return
        try:
            self._pool = await asyncpg.create_pool(
                self._dsn,
                min_size=min(2, self._pool_size),
                max_size=self._pool_size,
                init=_init_connection,
                reset=_keep_session,
                server_settings={"application_name": "threadloom"},
            )
        except _UNAVAILABLE as exc:
            raise _unavailable(exc) from exc

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), _CLOSE_TIMEOUT_SECONDS)
        except TimeoutError:
            pool.terminate()  # a query that never ends must not hold up shutdown

    async def ping(self) -> None:
        await self._fetchval("SELECT 1")

    # plumbing ---------------------------------------------------------------------------

    @property
    def _db(self) -> Pool:
        if self._pool is None:
            raise ServiceUnavailable("the PostgreSQL store is not open")
        return self._pool

    async def _fetch(self, sql: str, *args: Any) -> list[Record]:
        try:
            return await self._db.fetch(sql, *args)
        except _UNAVAILABLE as exc:
            raise _unavailable(exc) from exc

    async def _fetchrow(self, sql: str, *args: Any) -> Record | None:
        try:
            return await self._db.fetchrow(sql, *args)
        except _UNAVAILABLE as exc:
            raise _unavailable(exc) from exc

    async def _fetchval(self, sql: str, *args: Any) -> Any:
        try:
            return await self._db.fetchval(sql, *args)
        except _UNAVAILABLE as exc:
            raise _unavailable(exc) from exc

    async def _execute(self, sql: str, *args: Any) -> str:
        try:
            return await self._db.execute(sql, *args)
        except _UNAVAILABLE as exc:
            raise _unavailable(exc) from exc

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Connection]:
        try:
            async with self._db.acquire() as conn, conn.transaction():
                yield conn
        except _UNAVAILABLE as exc:
            raise _unavailable(exc) from exc

    # spaces -----------------------------------------------------------------------------

    async def create_space(self, space_id: str, name: str, metadata: dict[str, Any]) -> Row:
        now = utc_now()
        try:
            await self._execute(
                "INSERT INTO spaces (id, name, metadata, created_at) VALUES ($1, $2, $3, $4)",
                space_id,
                name,
                metadata,
                now,
            )
        except asyncpg.UniqueViolationError as exc:
            raise AlreadyExists(f"space {space_id!r} already exists") from exc
        return {
            "object": "space",
            "id": space_id,
            "name": name,
            "metadata": metadata,
            "created_at": format_ts(now),
        }

    async def get_space(self, space_id: str) -> Row | None:
        r = await self._fetchrow(f"SELECT {_SPACE_COLUMNS} FROM spaces WHERE id = $1", space_id)
        return _space(r) if r is not None else None

    async def list_spaces(
        self, limit: int, after: str | None, before: str | None, only: str | None
    ) -> PageSlice:
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
        sql = f"SELECT {_SPACE_COLUMNS} FROM spaces"
        if where:
            sql += " WHERE " + " AND ".join(where)
        args.append(limit + 1)
        sql += f" ORDER BY id {plan.direction} LIMIT ${len(args)}"
        rows = [_space(r) for r in await self._fetch(sql, *args)]
        return slice_page(rows, limit, plan)

    async def update_space(self, space_id: str, mutate: Callable[[Row], Row]) -> Row | None:
        async with self._transaction() as db:
            r = await db.fetchrow(
                f"SELECT {_SPACE_COLUMNS} FROM spaces WHERE id = $1 FOR UPDATE", space_id
            )
            if r is None:
                return None
            space = _space(r)
            space.update(mutate(space))
            await db.execute(
                "UPDATE spaces SET name = $1, metadata = $2 WHERE id = $3",
                space["name"],
                space["metadata"],
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
                busy = await db.fetchval(
                    "SELECT 1 FROM threads WHERE space_id = $1 LIMIT 1", space_id
                )
                if busy is not None:
                    raise Conflict(
                        f"space {space_id!r} still has threads; delete with force=true to "
                        "remove it with everything in it"
                    )
            return _count(await db.execute("DELETE FROM spaces WHERE id = $1", space_id)) > 0

    # threads ----------------------------------------------------------------------------

    async def create_thread(
        self,
        space_id: str,
        thread_id: str,
        thread: ThreadCreate,
        messages: Sequence[MessageCreate],
    ) -> tuple[Row, list[Row]]:
        now = utc_now()
        version = 0 if thread.state is None else 1
        role_mapping = {k: v.model_dump() for k, v in thread.role_mapping.items()}
        arrays = _message_arrays(messages)
        try:
            await self._execute(
                _CREATE_THREAD_SQL,
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
                *arrays,
            )
        except asyncpg.UniqueViolationError as exc:
            raise AlreadyExists(f"thread {thread_id!r} already exists") from exc
        except asyncpg.ForeignKeyViolationError as exc:
            raise NotFound(f"space {space_id!r} does not exist") from exc
        stamp = format_ts(now)
        stored = _stored_messages(
            thread_id, arrays[0], range(1, len(messages) + 1), messages, stamp
        )
        row: Row = {
            "object": "thread",
            "id": thread_id,
            "space_id": space_id,
            "title": thread.title,
            "owner_id": thread.owner_id,
            "public": thread.public,
            "status": "active",
            "metadata": thread.metadata,
            "state": thread.state,
            "state_version": version,
            "role_mapping": role_mapping,
            "message_count": len(stored),
            "created_at": stamp,
            "updated_at": stamp,
            "archived_at": None,
        }
        return row, stored

    async def get_thread(self, space_id: str, thread_id: str) -> Row | None:
        r = await self._fetchrow(
            f"SELECT {_THREAD_COLUMNS} FROM threads WHERE space_id = $1 AND id = $2",
            space_id,
            thread_id,
        )
        return _thread(r) if r is not None else None

    async def list_threads(self, space_id: str, query: ThreadQuery) -> PageSlice:
        plan = keyset_plan(
            query.order, has_after=query.after is not None, has_before=query.before is not None
        )
        where = ["space_id = $1"]
        args: list[Any] = [space_id]
        if query.status != "all":
            args.append(query.status)
            where.append(f"status = ${len(args)}")
        if query.owner_id is not None:
            args.append(query.owner_id)
            where.append(f"owner_id = ${len(args)}")
        for key, value in query.metadata:
            # ->> gives the text form: strings raw, numbers as written, true/false.
            args.extend((key, value))
            where.append(f"metadata ->> ${len(args) - 1}::text = ${len(args)}::text")
        if query.q:
            args.append(_like_pattern(query.q))
            where.append(f"title ILIKE ${len(args)} ESCAPE '\\'")
        cursor = query.before if query.before is not None else query.after
        column = query.order_by
        if plan.op and cursor is not None:
            args.extend((parse_ts(cursor[0]), cursor[1]))
            where.append(
                f"({column}, id) {plan.op} (${len(args) - 1}::timestamptz, ${len(args)}::text)"
            )
        args.append(query.limit + 1)
        sql = (
            f"SELECT {_THREAD_COLUMNS} FROM threads WHERE {' AND '.join(where)}"
            f" ORDER BY {column} {plan.direction}, id {plan.direction} LIMIT ${len(args)}"
        )
        rows = [_thread(r) for r in await self._fetch(sql, *args)]
        return slice_page(rows, query.limit, plan)

    async def update_thread(
        self, space_id: str, thread_id: str, mutate: ThreadMutation
    ) -> Row | None:
        async with self._transaction() as db:
            r = await db.fetchrow(
                f"SELECT {_THREAD_COLUMNS} FROM threads WHERE space_id = $1 AND id = $2 FOR UPDATE",
                space_id,
                thread_id,
            )
            if r is None:
                return None
            row = _thread(r)
            changes = mutate(row)
            if not changes:
                return row
            assert set(changes) <= THREAD_COLUMNS_UPDATABLE, set(changes)
            now = utc_now()
            columns = list(changes)
            values = [_thread_value(c, changes[c]) for c in columns]
            sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(columns, start=1))
            n = len(columns)
            await db.execute(
                f"UPDATE threads SET {sets}, updated_at = ${n + 1} WHERE pk = ${n + 2}",
                *values,
                now,
                r[0],
            )
        row.update({c: _wire_value(c, v) for c, v in changes.items()})
        row["updated_at"] = format_ts(now)
        return row

    async def purge_thread(self, space_id: str, thread_id: str) -> bool:
        status = await self._execute(
            "DELETE FROM threads WHERE space_id = $1 AND id = $2", space_id, thread_id
        )
        return _count(status) > 0

    # messages ---------------------------------------------------------------------------

    async def _writable_thread(self, space_id: str, thread_id: str) -> bool:
        """Raise NotFound or ThreadArchived; True when the thread is (now) active."""
        status = await self._fetchval(
            "SELECT status FROM threads WHERE space_id = $1 AND id = $2", space_id, thread_id
        )
        if status is None:
            raise NotFound(f"thread {thread_id!r} does not exist")
        if status != "active":
            raise ThreadArchived(f"thread {thread_id!r} is archived; restore it first")
        return True

    async def append_messages(
        self, space_id: str, thread_id: str, messages: Sequence[MessageCreate]
    ) -> list[Row]:
        if not messages:
            await self._writable_thread(space_id, thread_id)
            return []
        arrays = _message_arrays(messages)
        while True:
            now = utc_now()
            rows = await self._fetch(_APPEND_SQL, space_id, thread_id, len(messages), now, *arrays)
            if rows:
                break
            # Nothing inserted: the thread is missing or archived (this raises), or it was
            # restored between the two statements, in which case append again.
            await self._writable_thread(space_id, thread_id)
        seq_of = {r[0]: r[1] for r in rows}
        seqs = [seq_of[message_id] for message_id in arrays[0]]
        return _stored_messages(thread_id, arrays[0], seqs, messages, format_ts(now))

    async def list_messages(
        self, space_id: str, thread_id: str, query: MessageQuery
    ) -> PageSlice | None:
        plan = keyset_plan(
            query.order,
            has_after=query.after_seq is not None,
            has_before=query.before_seq is not None,
        )
        args: list[Any] = [space_id, thread_id, query.limit + 1]
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
            "SELECT m.id, m.seq, m.role, m.content, m.images, m.private, m.metadata,"
            f" {_wire_ts('m.created_at')} AS created_at"
            f" FROM messages m WHERE {' AND '.join(where)}"
            f" ORDER BY m.seq {plan.direction} LIMIT $3) p ON true"
            f" WHERE t.space_id = $1 AND t.id = $2 ORDER BY p.seq {plan.direction}"
        )
        records = await self._fetch(sql, *args)
        if not records:
            return None
        rows = [_message(r, thread_id, 1) for r in records if r[1] is not None]
        return slice_page(rows, query.limit, plan)

    # state ------------------------------------------------------------------------------

    async def get_state(self, space_id: str, thread_id: str) -> Row | None:
        r = await self._fetchrow(
            "SELECT state, state_version, state_updated_at FROM threads"
            " WHERE space_id = $1 AND id = $2",
            space_id,
            thread_id,
        )
        if r is None:
            return None
        return {
            "object": "thread.state",
            "thread_id": thread_id,
            "state": r[0],
            "version": r[1],
            "updated_at": _ts(r[2]),
        }

    async def write_state(
        self, space_id: str, thread_id: str, mutate: StateMutation, keep_versions: int
    ) -> Row | None:
        # Optimistic: read, compute, then write only if the version is still the one read
        # (two round trips, no transaction held open while Python computes). A writer that
        # lost the race reads again, so If-Match and merge patches see the newest state.
        while True:
            now = utc_now()
            r = await self._fetchrow(
                "SELECT pk, status, state, state_version FROM threads"
                " WHERE space_id = $1 AND id = $2",
                space_id,
                thread_id,
            )
            if r is None:
                return None
            pk, status, old_state, version = r[0], r[1], r[2], r[3]
            if status != "active":
                raise ThreadArchived(f"thread {thread_id!r} is archived; restore it first")
            new_state = mutate(old_state, version)
            # Saves the current version (unless pruning would drop it at once), prunes old
            # versions and writes the new state, all in one statement.
            result = await self._execute(
                _WRITE_STATE_SQL, pk, new_state, now, version - keep_versions, version
            )
            if result == "UPDATE 1":
                break
        return {
            "object": "thread.state",
            "thread_id": thread_id,
            "state": new_state,
            "version": version + 1,
            "updated_at": format_ts(now),
        }

    async def list_state_versions(
        self,
        space_id: str,
        thread_id: str,
        limit: int,
        after_version: int | None,
        before_version: int | None,
    ) -> PageSlice | None:
        # Newest first: "after" walks towards older versions.
        plan = keyset_plan(
            "desc", has_after=after_version is not None, has_before=before_version is not None
        )
        args: list[Any] = [space_id, thread_id, limit + 1]
        where = "v.thread_pk = t.pk"
        cursor = before_version if before_version is not None else after_version
        if plan.op and cursor is not None:
            args.append(cursor)
            where += f" AND v.version {plan.op} $4::integer"
        sql = (
            "SELECT t.pk, p.version, p.state, p.created_at FROM threads t LEFT JOIN LATERAL ("
            f"SELECT v.version, v.state, v.created_at FROM state_versions v WHERE {where}"
            f" ORDER BY v.version {plan.direction} LIMIT $3) p ON true"
            f" WHERE t.space_id = $1 AND t.id = $2 ORDER BY p.version {plan.direction}"
        )
        records = await self._fetch(sql, *args)
        if not records:
            return None
        rows = [
            {
                "object": "thread.state.version",
                "version": r[1],
                "created_at": format_ts(r[3]),
                "state": r[2],
            }
            for r in records
            if r[1] is not None
        ]
        return slice_page(rows, limit, plan)

    # API keys ---------------------------------------------------------------------------

    async def create_api_key(self, row: Row) -> Row:
        try:
            r = await self._fetchrow(
                "INSERT INTO api_keys (id, key_hash, prefix, name, role, space_id, created_at)"
                f" VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_KEY_COLUMNS}",
                row["id"],
                row["key_hash"],
                row["prefix"],
                row["name"],
                row["role"],
                row["space_id"],
                utc_now(),
            )
        except asyncpg.UniqueViolationError as exc:
            raise AlreadyExists(f"API key {row['id']!r} already exists") from exc
        except asyncpg.ForeignKeyViolationError as exc:
            raise NotFound(f"space {row['space_id']!r} does not exist") from exc
        assert r is not None
        return _key(r)

    async def find_api_key(self, key_hash: str) -> Row | None:
        r = await self._fetchrow(
            f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE key_hash = $1", key_hash
        )
        return _key(r) if r is not None else None

    async def list_api_keys(self) -> list[Row]:
        return [
            _key(r) for r in await self._fetch(f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY id")
        ]

    async def revoke_api_key(self, key_id: str) -> bool:
        status = await self._execute(
            "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
            utc_now(),
            key_id,
        )
        return _count(status) > 0

    async def count_api_keys(self, include_revoked: bool = False) -> int:
        sql = "SELECT count(*) FROM api_keys"
        if not include_revoked:
            sql += " WHERE revoked_at IS NULL"
        return int(await self._fetchval(sql))

    # idempotency ------------------------------------------------------------------------

    async def idempotency_begin(
        self, scope: str, key: str, request_hash: str, lease_seconds: float
    ) -> IdempotencyRecord | None:
        while True:
            now = utc_now()
            locked_until = now + timedelta(seconds=lease_seconds)
            # Claims a new key, or takes over the lease of a stale pending one for the same
            # request; either way a row comes back and the caller owns the key.
            owned = await self._fetchval(
                _IDEMPOTENCY_BEGIN_SQL, scope, key, request_hash, now, locked_until
            )
            if owned is not None:
                return None
            r = await self._fetchrow(
                "SELECT request_hash, status, response_status, response_body"
                " FROM idempotency_keys WHERE scope = $1 AND key = $2",
                scope,
                key,
            )
            if r is not None:
                return IdempotencyRecord(r[0], r[1], r[2], r[3])
            # Released or swept in between: try to claim it again.

    async def idempotency_complete(self, scope: str, key: str, status: int, body: bytes) -> None:
        await self._execute(
            "UPDATE idempotency_keys SET status = 'done', response_status = $1,"
            " response_body = $2 WHERE scope = $3 AND key = $4",
            status,
            body,
            scope,
            key,
        )

    async def idempotency_release(self, scope: str, key: str) -> None:
        await self._execute(
            "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status = 'pending'",
            scope,
            key,
        )

    async def idempotency_sweep(self, older_than_seconds: float) -> int:
        cutoff = utc_now() - timedelta(seconds=older_than_seconds)
        status = await self._execute("DELETE FROM idempotency_keys WHERE created_at < $1", cutoff)
        return _count(status)
