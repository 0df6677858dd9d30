"""A serving SQLite store checkpoints its WAL on a thread of its own, never inside a request's
COMMIT; any other store (the command line, the local library) leaves it to SQLite."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from threadloom.config import Settings
from threadloom.models import MessageCreate, ThreadCreate
from threadloom.store import create_store
from threadloom.store.sqlite import SQLiteStore
from threadloom.store.sqlite.connection import Checkpointer

pytestmark = pytest.mark.anyio


def _settings(url: str) -> Settings:
    return Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]


def _autocheckpoint(store: SQLiteStore) -> int:
    assert store._conn is not None
    value: int = store._conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
    return value


def _wal_pages_not_checkpointed(path: str) -> int:
    """Frames in the WAL that a checkpoint would still copy (read from another connection)."""
    conn = sqlite3.connect(path)
    try:
        busy, frames, done = conn.execute("PRAGMA wal_checkpoint(NOOP)").fetchone()
        assert busy == 0
        return int(frames - done)
    finally:
        conn.close()


async def _write_a_lot(store: SQLiteStore) -> None:
    await store.create_thread("default", "t1", ThreadCreate(), ())
    text = "x" * 2000
    for _ in range(300):  # well past the 1000 pages of SQLite's own checkpoint
        await store.append_messages("default", "t1", [MessageCreate(content=text)] * 5)


async def test_a_serving_store_checkpoints_off_the_request_path(sqlite_url: str) -> None:
    store = create_store(_settings(sqlite_url), serving=True)
    assert isinstance(store, SQLiteStore)
    await store.open()
    try:
        checkpointer = store.checkpointer
        assert checkpointer is not None
        assert checkpointer.is_alive()
        assert _autocheckpoint(store) == 0  # commits never checkpoint
        await _write_a_lot(store)
        deadline = time.monotonic() + 10
        while checkpointer.checkpointed_frames < 1000 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert checkpointer.checkpointed_frames >= 1000
    finally:
        await store.close()
    assert not checkpointer.is_alive()
    assert store.checkpointer is None


async def test_other_stores_leave_checkpoints_to_sqlite(sqlite_url: str) -> None:
    store = create_store(_settings(sqlite_url))
    assert isinstance(store, SQLiteStore)
    await store.open()
    try:
        assert store.checkpointer is None
        assert _autocheckpoint(store) == 1000
        await _write_a_lot(store)
        # SQLite's own checkpoint ran inside a COMMIT: little is left to copy.
        assert _wal_pages_not_checkpointed(sqlite_url.removeprefix("sqlite:///")) < 1000
    finally:
        await store.close()


def test_the_checkpoint_thread_survives_a_failed_round(tmp_path: Path) -> None:
    """An error in one round (here: the file is not a database) is logged, not fatal."""
    bogus = tmp_path / "not-a-database.db"
    bogus.write_bytes(b"this is not sqlite" * 100)
    checkpointer = Checkpointer(str(bogus), 100)
    checkpointer.start()
    deadline = time.monotonic() + 10
    while checkpointer.rounds < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert checkpointer.rounds >= 3
    assert checkpointer.is_alive()
    checkpointer.stop()
    assert not checkpointer.is_alive()
    assert checkpointer.checkpointed_frames == 0
