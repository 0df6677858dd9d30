"""The SQLite backend: the embedded default.

Every call runs synchronously on the caller's thread, inside the event loop. A SQLite
statement on a warm page cache takes microseconds, far less than a hop to a worker thread
and back, and running whole operations without an ``await`` inside makes each of them atomic
with respect to the other requests of the process: there is one writer per process by
construction, so requests never see "database is locked" from each other. Write
transactions start with ``BEGIN IMMEDIATE`` and the connection waits ``busy_timeout`` for
other processes that share the file (WAL mode lets readers go on meanwhile).

A lock serializes callers from several threads (the local library may be used that way).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

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
    slice_page,
    utc_now,
)

__all__ = ["SQLiteStore"]

_THREAD_COLUMNS = (
    "pk, space_id, id, title, owner_id, public, status, metadata, state, state_version,"
    " role_mapping, message_count, created_at, updated_at, archived_at"
)
_MESSAGE_COLUMNS = "id, seq, role, content, images, private, metadata, created_at"
_KEY_COLUMNS = "id, name, role, space_id, prefix, created_at, revoked_at"
_JSON_COLUMNS = frozenset({"metadata", "role_mapping"})
_loads = orjson.loads


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _now() -> str:
    return format_ts(utc_now())


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


def _message(r: Sequence[Any], thread_id: str) -> Row:
    return {
        "object": "message",
        "id": r[0],
        "thread_id": thread_id,
        "seq": r[1],
        "role": r[2],
        "content": r[3],
        "images": _loads(r[4]),
        "private": bool(r[5]),
        "metadata": _loads(r[6]),
        "created_at": r[7],
    }


def _space(r: Sequence[Any]) -> Row:
    return {
        "object": "space",
        "id": r[0],
        "name": r[1],
        "metadata": _loads(r[2]),
        "created_at": r[3],
    }


def _key(r: Sequence[Any]) -> Row:
    return {
        "object": "api_key",
        "id": r[0],
        "name": r[1],
        "role": r[2],
        "space_id": r[3],
        "prefix": r[4],
        "created_at": r[5],
        "revoked_at": r[6],
    }


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class SQLiteStore:
    backend = "sqlite"

    def __init__(self, path: str, *, busy_timeout_ms: int = 10_000, synchronous: str = "NORMAL"):
        self.path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._synchronous = synchronous
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()

    # lifecycle --------------------------------------------------------------------------

    async def open(self) -> None:
        self.open_sync()

    def open_sync(self) -> None:
        if self._conn is not None:
            return
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, cached_statements=256
        )
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        conn.execute("PRAGMA foreign_keys = ON")
        self._conn = conn

    async def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    async def ping(self) -> None:
        with self._reading() as db:
            db.execute("SELECT 1").fetchone()

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._conn is None:
                raise ServiceUnavailable("the SQLite store is not open")
            try:
                yield self._conn
            except sqlite3.OperationalError as exc:
                raise ServiceUnavailable(f"SQLite: {exc}") from exc

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        with self._reading() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @staticmethod
    def _thread_pk(db: sqlite3.Connection, space_id: str, thread_id: str) -> tuple[int, str]:
        row = db.execute(
            "SELECT pk, status FROM threads WHERE space_id = ? AND id = ?", (space_id, thread_id)
        ).fetchone()
        if row is None:
            raise NotFound(f"thread {thread_id!r} does not exist")
        return row[0], row[1]

    # spaces -----------------------------------------------------------------------------

    async def create_space(self, space_id: str, name: str, metadata: dict[str, Any]) -> Row:
        now = _now()
        with self._writing() as db:
            try:
                db.execute(
                    "INSERT INTO spaces (id, name, metadata, created_at) VALUES (?, ?, ?, ?)",
                    (space_id, name, _dumps(metadata), now),
                )
            except sqlite3.IntegrityError as exc:
                raise AlreadyExists(f"space {space_id!r} already exists") from exc
        return {
            "object": "space",
            "id": space_id,
            "name": name,
            "metadata": metadata,
            "created_at": now,
        }

    async def get_space(self, space_id: str) -> Row | None:
        with self._reading() as db:
            r = db.execute(
                "SELECT id, name, metadata, created_at FROM spaces WHERE id = ?", (space_id,)
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
        sql = "SELECT id, name, metadata, created_at FROM spaces"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY id {plan.direction} LIMIT ?"
        with self._reading() as db:
            rows = [_space(r) for r in db.execute(sql, (*args, limit + 1))]
        return slice_page(rows, limit, plan)

    async def update_space(self, space_id: str, mutate: Callable[[Row], Row]) -> Row | None:
        with self._writing() as db:
            r = db.execute(
                "SELECT id, name, metadata, created_at FROM spaces WHERE id = ?", (space_id,)
            ).fetchone()
            if r is None:
                return None
            space = _space(r)
            space.update(mutate(space))
            db.execute(
                "UPDATE spaces SET name = ?, metadata = ? WHERE id = ?",
                (space["name"], _dumps(space["metadata"]), space_id),
            )
        return space

    async def delete_space(self, space_id: str, force: bool) -> bool:
        with self._writing() as db:
            if not force:
                busy = db.execute("SELECT 1 FROM threads WHERE space_id = ? LIMIT 1", (space_id,))
                if busy.fetchone() is not None:
                    raise Conflict(
                        f"space {space_id!r} still has threads; delete with force=true to "
                        "remove it with everything in it"
                    )
            return db.execute("DELETE FROM spaces WHERE id = ?", (space_id,)).rowcount > 0

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
                    " VALUES (?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, 0, 0, ?, ?)",
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
                        now,
                        now,
                    ),
                )
            except sqlite3.IntegrityError as exc:
                raise AlreadyExists(f"thread {thread_id!r} already exists") from exc
            pk = cur.lastrowid
            assert pk is not None
            stored = self._insert_messages(db, pk, thread_id, 0, messages, now)
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
            "created_at": now,
            "updated_at": now,
            "archived_at": None,
        }
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
        where, args = ["space_id = ?"], [space_id]
        if query.status != "all":
            where.append("status = ?")
            args.append(query.status)
        if query.owner_id is not None:
            where.append("owner_id = ?")
            args.append(query.owner_id)
        for key, value in query.metadata:
            path = f'$."{key}"'
            where.append(
                "(CASE json_type(metadata, ?) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'"
                " ELSE CAST(json_extract(metadata, ?) AS TEXT) END) = ?"
            )
            args.extend((path, path, value))
        if query.q:
            where.append("title LIKE ? ESCAPE '\\'")
            args.append(_like_pattern(query.q))
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

    # messages ---------------------------------------------------------------------------

    @staticmethod
    def _insert_messages(
        db: sqlite3.Connection,
        pk: int,
        thread_id: str,
        last_seq: int,
        messages: Sequence[MessageCreate],
        now: str,
    ) -> list[Row]:
        if not messages:
            return []
        stored: list[Row] = []
        params = []
        for offset, m in enumerate(messages, start=1):
            message_id = new_id("msg")
            seq = last_seq + offset
            params.append(
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
                )
            )
            stored.append(
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
            )
        db.executemany(
            "INSERT INTO messages (id, thread_pk, seq, role, content, images, private, metadata,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            params,
        )
        db.execute(
            "UPDATE threads SET last_seq = ?, message_count = message_count + ?, updated_at = ?"
            " WHERE pk = ?",
            (last_seq + len(messages), len(messages), now, pk),
        )
        return stored

    async def append_messages(
        self, space_id: str, thread_id: str, messages: Sequence[MessageCreate]
    ) -> list[Row]:
        now = _now()
        with self._writing() as db:
            r = db.execute(
                "SELECT pk, status, last_seq FROM threads WHERE space_id = ? AND id = ?",
                (space_id, thread_id),
            ).fetchone()
            if r is None:
                raise NotFound(f"thread {thread_id!r} does not exist")
            if r[1] != "active":
                raise ThreadArchived(f"thread {thread_id!r} is archived; restore it first")
            return self._insert_messages(db, r[0], thread_id, r[2], messages, now)

    async def list_messages(
        self, space_id: str, thread_id: str, query: MessageQuery
    ) -> PageSlice | None:
        plan = keyset_plan(
            query.order,
            has_after=query.after_seq is not None,
            has_before=query.before_seq is not None,
        )
        with self._reading() as db:
            r = db.execute(
                "SELECT pk FROM threads WHERE space_id = ? AND id = ?", (space_id, thread_id)
            ).fetchone()
            if r is None:
                return None
            where, args = ["thread_pk = ?"], [r[0]]
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
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE {' AND '.join(where)}"
                f" ORDER BY seq {plan.direction} LIMIT ?"
            )
            rows = [_message(m, thread_id) for m in db.execute(sql, (*args, query.limit + 1))]
        return slice_page(rows, query.limit, plan)

    # state ------------------------------------------------------------------------------

    async def get_state(self, space_id: str, thread_id: str) -> Row | None:
        with self._reading() as db:
            r = db.execute(
                "SELECT state, state_version, state_updated_at FROM threads"
                " WHERE space_id = ? AND id = ?",
                (space_id, thread_id),
            ).fetchone()
        if r is None:
            return None
        state = _loads(r[0]) if r[0] is not None else None
        return {
            "object": "thread.state",
            "thread_id": thread_id,
            "state": state,
            "version": r[1],
            "updated_at": r[2],
        }

    async def write_state(
        self, space_id: str, thread_id: str, mutate: StateMutation, keep_versions: int
    ) -> Row | None:
        now = _now()
        with self._writing() as db:
            r = db.execute(
                "SELECT pk, status, state, state_version, state_updated_at FROM threads"
                " WHERE space_id = ? AND id = ?",
                (space_id, thread_id),
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
        return {
            "object": "thread.state",
            "thread_id": thread_id,
            "state": new_state,
            "version": version + 1,
            "updated_at": now,
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
        with self._reading() as db:
            r = db.execute(
                "SELECT pk FROM threads WHERE space_id = ? AND id = ?", (space_id, thread_id)
            ).fetchone()
            if r is None:
                return None
            sql = "SELECT version, state, created_at FROM state_versions WHERE thread_pk = ?"
            args: list[Any] = [r[0]]
            cursor = before_version if before_version is not None else after_version
            if plan.op and cursor is not None:
                sql += f" AND version {plan.op} ?"
                args.append(cursor)
            sql += f" ORDER BY version {plan.direction} LIMIT ?"
            rows = [
                {
                    "object": "thread.state.version",
                    "version": v,
                    "created_at": at,
                    "state": _loads(s) if s is not None else None,
                }
                for v, s, at in db.execute(sql, (*args, limit + 1))
            ]
        return slice_page(rows, limit, plan)

    # API keys ---------------------------------------------------------------------------

    async def create_api_key(self, row: Row) -> Row:
        now = _now()
        with self._writing() as db:
            if row["space_id"] is not None:
                space = db.execute("SELECT 1 FROM spaces WHERE id = ?", (row["space_id"],))
                if space.fetchone() is None:
                    raise NotFound(f"space {row['space_id']!r} does not exist")
            try:
                db.execute(
                    "INSERT INTO api_keys (id, key_hash, prefix, name, role, space_id,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        row["id"],
                        row["key_hash"],
                        row["prefix"],
                        row["name"],
                        row["role"],
                        row["space_id"],
                        now,
                    ),
                )
            except sqlite3.IntegrityError as exc:
                raise AlreadyExists("an API key with this id or secret already exists") from exc
            r = db.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id = ?", (row["id"],))
            return _key(r.fetchone())

    async def find_api_key(self, key_hash: str) -> Row | None:
        with self._reading() as db:
            r = db.execute(
                f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE key_hash = ?", (key_hash,)
            ).fetchone()
        return _key(r) if r else None

    async def list_api_keys(self) -> list[Row]:
        with self._reading() as db:
            return [_key(r) for r in db.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY id")]

    async def revoke_api_key(self, key_id: str) -> bool:
        with self._writing() as db:
            cur = db.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (_now(), key_id),
            )
            return cur.rowcount > 0

    async def count_api_keys(self, include_revoked: bool = False) -> int:
        sql = "SELECT count(*) FROM api_keys"
        if not include_revoked:
            sql += " WHERE revoked_at IS NULL"
        with self._reading() as db:
            r = db.execute(sql).fetchone()
        return int(r[0])

    # idempotency ------------------------------------------------------------------------

    async def idempotency_begin(
        self, scope: str, key: str, request_hash: str, lease_seconds: float
    ) -> IdempotencyRecord | None:
        now = utc_now()
        locked_until = format_ts(now + timedelta(seconds=lease_seconds))
        with self._writing() as db:
            r = db.execute(
                "SELECT request_hash, status, response_status, response_body, locked_until"
                " FROM idempotency_keys WHERE scope = ? AND key = ?",
                (scope, key),
            ).fetchone()
            if r is None:
                db.execute(
                    "INSERT INTO idempotency_keys (scope, key, request_hash, status, created_at,"
                    " locked_until) VALUES (?, ?, ?, 'pending', ?, ?)",
                    (scope, key, request_hash, format_ts(now), locked_until),
                )
                return None
            stale = r[1] == "pending" and r[4] < format_ts(now)
            if stale and r[0] == request_hash:
                db.execute(
                    "UPDATE idempotency_keys SET locked_until = ? WHERE scope = ? AND key = ?",
                    (locked_until, scope, key),
                )
                return None
        return IdempotencyRecord(r[0], r[1], r[2], r[3])

    async def idempotency_complete(self, scope: str, key: str, status: int, body: bytes) -> None:
        with self._writing() as db:
            db.execute(
                "UPDATE idempotency_keys SET status = 'done', response_status = ?,"
                " response_body = ? WHERE scope = ? AND key = ?",
                (status, body, scope, key),
            )

    async def idempotency_release(self, scope: str, key: str) -> None:
        with self._writing() as db:
            db.execute(
                "DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND status = 'pending'",
                (scope, key),
            )

    async def idempotency_sweep(self, older_than_seconds: float) -> int:
        cutoff = format_ts(utc_now() - timedelta(seconds=older_than_seconds))
        with self._writing() as db:
            cur = db.execute("DELETE FROM idempotency_keys WHERE created_at < ?", (cutoff,))
            return cur.rowcount
