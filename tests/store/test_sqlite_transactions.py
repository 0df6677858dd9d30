"""The SQLite store's ``_reading`` and ``_writing`` blocks: the lock, one write transaction
each, and operational errors as ServiceUnavailable."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from threadloom.errors import ServiceUnavailable
from threadloom.store.sqlite.connection import SQLiteBase


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteBase]:
    base = SQLiteBase(str(tmp_path / "t.db"), busy_timeout_ms=50)
    base.open_sync()
    with base._reading() as db:
        db.execute("CREATE TABLE t (v INTEGER PRIMARY KEY)")
    yield base
    assert base._conn is not None
    base._conn.close()


def _values(store: SQLiteBase) -> list[int]:
    with store._reading() as db:
        return [r[0] for r in db.execute("SELECT v FROM t ORDER BY v")]


def _lock_is_free(store: SQLiteBase) -> bool:
    """Whether another thread can take the store's lock at once."""
    free: list[bool] = []

    def probe() -> None:
        acquired = store._lock.acquire(blocking=False)
        free.append(acquired)
        if acquired:
            store._lock.release()

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    return free[0]


def test_a_write_block_commits_one_transaction_and_frees_the_lock(store: SQLiteBase) -> None:
    with store._writing() as db:
        assert db.in_transaction
        assert not _lock_is_free(store)
        db.execute("INSERT INTO t VALUES (1)")
        db.execute("INSERT INTO t VALUES (2)")
    assert store._conn is not None
    assert not store._conn.in_transaction
    assert _lock_is_free(store)
    assert _values(store) == [1, 2]


def _insert_then(store: SQLiteBase, sql: str) -> None:
    """Insert 1, then run ``sql`` (or raise KeyError without it), in one write block."""
    with store._writing() as db:
        db.execute("INSERT INTO t VALUES (1)")
        if not sql:
            raise KeyError("boom")
        db.execute(sql)


def test_a_write_block_that_raises_rolls_back_and_reraises(store: SQLiteBase) -> None:
    with pytest.raises(KeyError, match="boom"):
        _insert_then(store, "")
    assert _values(store) == []
    assert _lock_is_free(store)


def test_an_operational_error_in_a_block_is_service_unavailable(store: SQLiteBase) -> None:
    with pytest.raises(ServiceUnavailable, match="SQLite: no such table") as caught:
        _insert_then(store, "SELECT * FROM missing")
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    assert _values(store) == []
    with pytest.raises(ServiceUnavailable), store._reading() as db:
        db.execute("SELECT * FROM missing")
    assert _lock_is_free(store)


def test_a_closed_store_is_unavailable_and_keeps_its_lock_free(tmp_path: Path) -> None:
    closed = SQLiteBase(str(tmp_path / "closed.db"))
    for block in (closed._reading, closed._writing):
        with pytest.raises(ServiceUnavailable, match="not open"), block():
            pytest.fail("the block ran")
        assert _lock_is_free(closed)


def test_a_write_that_cannot_begin_is_unavailable(store: SQLiteBase) -> None:
    other = sqlite3.connect(store.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        with pytest.raises(ServiceUnavailable, match="locked"), store._writing():
            pytest.fail("the block ran")
        assert _lock_is_free(store)
    finally:
        other.execute("ROLLBACK")
        other.close()
    with store._writing() as db:
        db.execute("INSERT INTO t VALUES (1)")
    assert _values(store) == [1]


def test_a_commit_that_fails_is_rolled_back_and_the_next_write_works(store: SQLiteBase) -> None:
    assert store._conn is not None
    store._conn.execute("PRAGMA journal_mode = DELETE")  # COMMIT then needs readers gone
    reader = sqlite3.connect(store.path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT * FROM t").fetchall()  # holds a shared lock
    try:
        with pytest.raises(ServiceUnavailable, match="locked"):
            _insert_then(store, "SELECT 1")
        assert not store._conn.in_transaction
        assert _lock_is_free(store)
    finally:
        reader.execute("ROLLBACK")
        reader.close()
    assert _values(store) == []
    with store._writing() as db:
        db.execute("INSERT INTO t VALUES (2)")
    assert _values(store) == [2]
