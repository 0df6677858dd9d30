"""The SQLite connection: open, close and ping, the read and write transactions, and the
small helpers every part of the backend shares."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

from ...errors import NotFound, ServiceUnavailable
from ...timestamps import now_ts

__all__ = ["SQLiteBase"]

_loads = orjson.loads

LIVE = "(expires_at IS NULL OR expires_at > ?)"
"""The thread has not expired at the instant given as the parameter (RFC 3339 text sorts
like time). Every read of a thread adds it: an expired thread is missing at once, before
the sweeper deletes it."""


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


_now = now_ts


def _unavailable(exc: sqlite3.OperationalError) -> ServiceUnavailable:
    return ServiceUnavailable(f"SQLite: {exc}")


class _Connection:
    """The store's connection for one ``with`` block, holding the store's lock; with
    ``write``, the block is one write transaction. A SQLite operational error (busy, locked,
    I/O) becomes ServiceUnavailable. A class rather than a generator-based context manager:
    every append enters one, and this costs a fraction of the generator's overhead."""

    __slots__ = ("_db", "_store", "_write")

    def __init__(self, store: SQLiteBase, *, write: bool) -> None:
        self._store = store
        self._write = write

    def __enter__(self) -> sqlite3.Connection:
        lock = self._store._lock
        lock.acquire()
        try:
            db = self._store._conn
            if db is None:
                raise ServiceUnavailable("the SQLite store is not open")
            if self._write:
                db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            lock.release()
            raise _unavailable(exc) from exc
        except BaseException:
            lock.release()
            raise
        self._db = db
        return db

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if self._write:
                self._end(committing=kind is None)
        except sqlite3.OperationalError as exc:
            raise _unavailable(exc) from exc
        finally:
            self._store._lock.release()
        if isinstance(error, sqlite3.OperationalError):
            raise _unavailable(error) from error

    def _end(self, *, committing: bool) -> None:
        db = self._db
        if not committing:
            db.execute("ROLLBACK")
            return
        try:
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:  # a failed COMMIT leaves the transaction open: end it
                db.execute("ROLLBACK")
            raise


class SQLiteBase:
    """One connection, a lock around it, and the read and write transactions every
    resource mixin runs its queries in."""

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

    def _reading(self) -> _Connection:
        """``with`` it for the connection, under the lock, to read (or to write outside a
        transaction)."""
        return _Connection(self, write=False)

    def _writing(self) -> _Connection:
        """``with`` it for one write transaction: BEGIN IMMEDIATE, then COMMIT, or ROLLBACK
        if the block raises."""
        return _Connection(self, write=True)

    @staticmethod
    def _thread_pk(
        db: sqlite3.Connection, space_id: str, thread_id: str, now: str
    ) -> tuple[int, str]:
        row = db.execute(
            f"SELECT pk, status FROM threads WHERE space_id = ? AND id = ? AND {LIVE}",
            (space_id, thread_id, now),
        ).fetchone()
        if row is None:
            raise NotFound(f"thread {thread_id!r} does not exist")
        return row[0], row[1]
