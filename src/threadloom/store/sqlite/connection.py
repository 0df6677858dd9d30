"""The SQLite connection: open, close and ping, the read and write transactions, and the
small helpers every part of the backend shares."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from ...errors import NotFound, ServiceUnavailable
from ..base import now_ts

__all__ = ["SQLiteBase"]

_loads = orjson.loads

LIVE = "(expires_at IS NULL OR expires_at > ?)"
"""The thread has not expired at the instant given as the parameter (RFC 3339 text sorts
like time). Every read of a thread adds it: an expired thread is missing at once, before
the sweeper deletes it."""


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


_now = now_ts


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
