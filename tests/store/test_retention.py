"""Retention on every backend (SQLite, PostgreSQL and Redis): threads that expire, the sweep
that reclaims their storage, the space's default time to live, and purging an owner.

Expiring tests use one-second lifetimes and poll with a deadline: they never assert how long
anything took.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import timedelta, timezone
from typing import Any

import anyio
import asyncpg
import pytest
import redis.asyncio as aioredis

from threadloom.config import Settings
from threadloom.errors import NotFound
from threadloom.models import MessageCreate, ThreadCreate
from threadloom.store import Store
from threadloom.store import base as store_base
from threadloom.store.base import MessageQuery, ThreadQuery
from threadloom.store.postgres import threads as postgres_threads
from threadloom.store.redis import threads as redis_threads
from threadloom.store.rows import ThreadRow
from threadloom.store.sqlite import threads as sqlite_threads
from threadloom.store.urls import backend_of
from threadloom.timestamps import format_ts, parse_ts, utc_now

pytestmark = pytest.mark.anyio

SPACE = "default"
DEADLINE_SECONDS = 15.0


def msg(content: str = "hi", role: str = "user", **kwargs: Any) -> MessageCreate:
    return MessageCreate(role=role, content=content, **kwargs)


async def new_thread(
    store: Store,
    thread_id: str,
    *,
    space_id: str = SPACE,
    messages: tuple[MessageCreate, ...] = (),
    **fields: Any,
) -> ThreadRow:
    row, _ = await store.create_thread(space_id, thread_id, ThreadCreate(**fields), messages)
    return row


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll ``check`` until it holds; fail after a generous deadline."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"still not true after {DEADLINE_SECONDS} s: {what}")
        await anyio.sleep(0.05)


async def expired(store: Store, thread_id: str, space_id: str = SPACE) -> None:
    async def gone() -> bool:
        return await store.get_thread(space_id, thread_id) is None

    await eventually(gone, f"thread {thread_id!r} expired")


async def listed(store: Store, space_id: str = SPACE, **query: Any) -> list[str]:
    query.setdefault("limit", 100)
    page = await store.list_threads(space_id, ThreadQuery(**query))
    return [row["id"] for row in page.rows]


def lifetime(row: ThreadRow) -> timedelta:
    expires_at = row["expires_at"]
    assert expires_at is not None
    return parse_ts(expires_at) - parse_ts(row["created_at"])


# expiry ------------------------------------------------------------------------------------


async def test_an_expired_thread_is_missing_everywhere(store: Store) -> None:
    await store.create_space("s1", "One", {})
    await new_thread(store, "s1-only", space_id="s1", ttl_seconds=1)
    await new_thread(store, "kept", owner_id="o1", title="same", messages=(msg("stays"),))
    row = await new_thread(
        store,
        "t1",
        owner_id="o1",
        title="same",
        metadata={"k": "v"},
        state={"v": 1},
        ttl_seconds=1,
        messages=(msg("a"), msg("b", role="tool", private=True)),
    )
    assert lifetime(row) == timedelta(seconds=1)
    await store.write_state(SPACE, "t1", lambda _s, _v: {"v": 2}, 10)

    # Readable until it expires.
    fetched = await store.get_thread(SPACE, "t1")
    assert fetched is not None
    assert fetched["expires_at"] == row["expires_at"]
    assert "t1" in await listed(store)
    page = await store.list_messages(SPACE, "t1", MessageQuery(limit=10, include_private=True))
    assert page is not None
    assert [m["content"] for m in page.rows] == ["a", "b"]
    state = await store.get_state(SPACE, "t1")
    assert state is not None
    assert state["state"] == {"v": 2}

    await expired(store, "t1")
    assert await store.get_thread(SPACE, "t1") is None
    for query in (
        {},
        {"status": "all"},
        {"owner_id": "o1"},
        {"owner_id": "o1", "status": "all"},
        {"title": "same"},
        {"metadata": (("k", "v"),)},
        {"q": "sam"},
        {"order_by": "created_at", "order": "asc"},
    ):
        assert "t1" not in await listed(store, **query), query
    assert await listed(store, owner_id="o1") == ["kept"]
    assert await store.list_messages(SPACE, "t1", MessageQuery(limit=10)) is None
    assert await store.get_state(SPACE, "t1") is None
    assert await store.list_state_versions(SPACE, "t1", 10, None, None) is None
    with pytest.raises(NotFound):
        await store.append_messages(SPACE, "t1", [msg("late")])
    with pytest.raises(NotFound):
        await store.append_messages(SPACE, "t1", [])
    assert await store.write_state(SPACE, "t1", lambda _s, _v: {"v": 3}, 10) is None
    assert await store.update_thread(SPACE, "t1", lambda _row: {"title": "late"}) is None
    assert await store.purge_thread(SPACE, "t1") is False

    # The other threads are untouched, and a space left with expired threads only is empty.
    kept = await store.list_messages(SPACE, "kept", MessageQuery(limit=10))
    assert kept is not None
    assert [m["content"] for m in kept.rows] == ["stays"]
    await expired(store, "s1-only", "s1")
    assert await store.delete_space("s1", force=False) is True


async def test_appending_does_not_extend_the_expiry(store: Store) -> None:
    row = await new_thread(store, "t1", ttl_seconds=3600)
    await store.append_messages(SPACE, "t1", [msg("one")])
    await store.write_state(SPACE, "t1", lambda _s, _v: {"v": 1}, 10)
    after = await store.get_thread(SPACE, "t1")
    assert after is not None
    assert after["updated_at"] > row["updated_at"]
    assert after["expires_at"] == row["expires_at"]


async def test_threads_without_a_ttl_never_expire(store: Store) -> None:
    row = await new_thread(store, "t1")
    assert row["expires_at"] is None
    assert await store.get_thread(SPACE, "t1") == row
    assert await store.sweep_expired(100) == 0


async def test_the_id_of_an_expired_thread_is_free_again(store: Store) -> None:
    await new_thread(store, "t1", owner_id="o1", ttl_seconds=1, messages=(msg("old"),))
    await expired(store, "t1")
    row = await new_thread(store, "t1", owner_id="o2", messages=(msg("new"),))
    assert row["expires_at"] is None
    assert await store.get_thread(SPACE, "t1") == row
    assert await listed(store, status="all") == ["t1"]
    assert await listed(store, owner_id="o1") == []
    assert await listed(store, owner_id="o2") == ["t1"]
    page = await store.list_messages(SPACE, "t1", MessageQuery(limit=10))
    assert page is not None
    assert [(m["seq"], m["content"]) for m in page.rows] == [(1, "new")]
    assert await store.sweep_expired(100) == 0
    assert await store.get_thread(SPACE, "t1") == row


async def test_sweep_deletes_expired_threads_in_batches(store: Store) -> None:
    for n in range(3):
        await new_thread(store, f"gone{n}", ttl_seconds=1, messages=(msg(),), state={"n": n})
    await new_thread(store, "later", ttl_seconds=3600)
    await new_thread(store, "kept")
    for n in range(3):
        await expired(store, f"gone{n}")
    assert await store.sweep_expired(2) == 2
    assert await store.sweep_expired(100) == 1
    assert await store.sweep_expired(100) == 0
    assert sorted(await listed(store, status="all")) == ["kept", "later"]


async def test_an_expiry_given_as_an_instant_is_kept_to_the_microsecond(store: Store) -> None:
    """``expires_at`` on create (what an import restores) is stored as given, in UTC, and
    wins over the space's default."""
    await store.create_space("s1", "One", {}, 60)
    at = (utc_now() + timedelta(days=30)).replace(microsecond=123456)
    row = await new_thread(store, "t1", space_id="s1", expires_at=at, messages=(msg(),))
    assert row["expires_at"] == format_ts(at)
    assert row["expires_at"].endswith(".123456Z")
    assert await store.get_thread("s1", "t1") == row
    page = await store.list_threads("s1", ThreadQuery(limit=10))
    assert page.rows == [row]
    # Another offset is the same instant.
    eastern = at.astimezone(timezone(timedelta(hours=-5)))
    other = await new_thread(store, "t2", space_id="s1", expires_at=eastern)
    assert other["expires_at"] == format_ts(at)
    fetched = await store.get_thread("s1", "t2")
    assert fetched is not None
    assert fetched["expires_at"] == format_ts(at)


async def test_a_thread_expires_at_the_instant_it_was_given(store: Store) -> None:
    at = utc_now() + timedelta(seconds=1)
    row = await new_thread(store, "t1", expires_at=at, messages=(msg(),), state={"v": 1})
    await new_thread(store, "kept")
    assert row["expires_at"] == format_ts(at)
    await expired(store, "t1")
    assert utc_now() >= at
    assert await listed(store, status="all") == ["kept"]
    assert await store.list_messages(SPACE, "t1", MessageQuery(limit=10)) is None
    assert await store.get_state(SPACE, "t1") is None
    assert await store.sweep_expired(100) == 1


# changing the expiry -----------------------------------------------------------------------


async def test_update_sets_moves_and_removes_the_expiry(store: Store) -> None:
    await new_thread(store, "saved", ttl_seconds=1, messages=(msg("a"), msg("b", role="tool")))
    await store.write_state(SPACE, "saved", lambda _s, _v: {"v": 1}, 10)
    await store.write_state(SPACE, "saved", lambda _s, _v: {"v": 2}, 10)
    kept = await store.update_thread(SPACE, "saved", lambda _row: {"expires_at": None})
    assert kept is not None
    assert kept["expires_at"] is None

    await new_thread(store, "doomed", messages=(msg("x", private=True), msg("y", role="tool")))
    await store.write_state(SPACE, "doomed", lambda _s, _v: {"v": 1}, 10)
    await store.write_state(SPACE, "doomed", lambda _s, _v: {"v": 2}, 10)
    soon = format_ts(utc_now() + timedelta(seconds=1))
    doomed = await store.update_thread(SPACE, "doomed", lambda _row: {"expires_at": soon})
    assert doomed is not None
    assert doomed["expires_at"] == soon
    fetched = await store.get_thread(SPACE, "doomed")
    assert fetched is not None
    assert fetched["expires_at"] == soon

    # "saved" would have expired before "doomed" does.
    await expired(store, "doomed")
    saved = await store.get_thread(SPACE, "saved")
    assert saved is not None
    assert saved["expires_at"] is None
    page = await store.list_messages(SPACE, "saved", MessageQuery(limit=10))
    assert page is not None
    assert [m["content"] for m in page.rows] == ["a", "b"]
    state = await store.get_state(SPACE, "saved")
    assert state is not None
    assert state["state"] == {"v": 2}
    history = await store.list_state_versions(SPACE, "saved", 10, None, None)
    assert history is not None
    assert [v["version"] for v in history.rows] == [1]
    assert await listed(store) == ["saved"]
    assert await store.sweep_expired(100) == 1


# the space's default -----------------------------------------------------------------------


async def test_the_space_default_applies_to_new_threads(store: Store) -> None:
    space = await store.create_space("s1", "One", {}, 3600)
    assert space["default_thread_ttl_seconds"] == 3600
    assert await store.get_space("s1") == space
    assert (await store.list_spaces(10, None, None, "s1")).rows == [space]
    plain = await store.create_space("s2", "Two", {})
    assert plain["default_thread_ttl_seconds"] is None
    assert await store.get_space("s2") == plain

    defaulted = await new_thread(store, "t1", space_id="s1")
    assert lifetime(defaulted) == timedelta(seconds=3600)
    assert await store.get_thread("s1", "t1") == defaulted
    own = await new_thread(store, "t2", space_id="s1", ttl_seconds=60)
    assert lifetime(own) == timedelta(seconds=60)
    with_message, _ = await store.create_thread("s1", "t3", ThreadCreate(), [msg()])
    assert lifetime(with_message) == timedelta(seconds=3600)
    assert (await new_thread(store, "t4", space_id="s2"))["expires_at"] is None

    changed = await store.update_space("s1", lambda _s: {"default_thread_ttl_seconds": 5})
    assert changed is not None
    assert changed["default_thread_ttl_seconds"] == 5
    assert await store.get_space("s1") == changed
    assert lifetime(await new_thread(store, "t5", space_id="s1")) == timedelta(seconds=5)
    # Threads that exist keep their expiry.
    assert await store.get_thread("s1", "t1") == defaulted

    removed = await store.update_space("s1", lambda _s: {"default_thread_ttl_seconds": None})
    assert removed is not None
    assert removed["default_thread_ttl_seconds"] is None
    assert await store.get_space("s1") == removed
    assert (await new_thread(store, "t6", space_id="s1"))["expires_at"] is None


# purging an owner --------------------------------------------------------------------------


async def test_purge_owner_deletes_exactly_that_owners_threads(store: Store) -> None:
    await store.create_space("s1", "One", {})
    for n in range(3):
        await new_thread(store, f"o1-{n}", owner_id="o1", messages=(msg(),), state={"n": n})
    archived = await store.update_thread(
        SPACE, "o1-2", lambda _row: {"status": "archived", "archived_at": format_ts(utc_now())}
    )
    assert archived is not None
    await new_thread(store, "o1-expiring", owner_id="o1", ttl_seconds=3600)
    await new_thread(store, "o2-0", owner_id="o2", messages=(msg(),))
    await new_thread(store, "nobody")
    await new_thread(store, "elsewhere", space_id="s1", owner_id="o1")

    assert await store.purge_owner(SPACE, "o1") == 4
    for thread_id in ("o1-0", "o1-1", "o1-2", "o1-expiring"):
        assert await store.get_thread(SPACE, thread_id) is None
        assert await store.list_messages(SPACE, thread_id, MessageQuery(limit=10)) is None
        assert await store.get_state(SPACE, thread_id) is None
    assert sorted(await listed(store, status="all")) == ["nobody", "o2-0"]
    assert await listed(store, owner_id="o1", status="all") == []
    assert await listed(store, "s1", owner_id="o1") == ["elsewhere"]
    assert await store.purge_owner(SPACE, "o1") == 0
    assert await store.purge_owner(SPACE, "nobody-at-all") == 0
    assert await store.sweep_expired(100) == 0


async def test_purge_owner_works_in_batches_and_skips_expired_threads(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    for module in (store_base, sqlite_threads, postgres_threads, redis_threads):
        monkeypatch.setattr(module, "PURGE_BATCH", 2)
    await new_thread(store, "expired", owner_id="o1", ttl_seconds=1, messages=(msg(),))
    for n in range(5):
        await new_thread(store, f"t{n}", owner_id="o1", messages=(msg(),))
    await new_thread(store, "other", owner_id="o2")
    await expired(store, "expired")
    # The expired thread is deleted too but was gone already: it does not count.
    assert await store.purge_owner(SPACE, "o1") == 5
    assert await listed(store, status="all") == ["other"]
    assert await store.sweep_expired(100) == 0


# storage is reclaimed ----------------------------------------------------------------------


async def stored(settings: Settings) -> Any:
    """What the database holds: row counts on SQL, every key under the prefix on Redis."""
    url = settings.database_url
    backend = backend_of(url)
    tables = ("threads", "messages", "state_versions")
    if backend == "sqlite":
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            counts = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
        db.close()
        return counts
    if backend == "postgres":
        conn = await asyncpg.connect(url)
        try:
            return {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in tables}
        finally:
            await conn.close()
    client = aioredis.Redis.from_url(url)
    try:
        prefix = settings.redis_prefix
        return {key.decode() async for key in client.scan_iter(match=f"{prefix}:*", count=1000)}
    finally:
        await client.aclose()


async def test_expired_threads_leave_nothing_behind(settings: Settings, store: Store) -> None:
    await new_thread(store, "kept", messages=(msg(),))
    before = await stored(settings)
    await new_thread(
        store,
        "gone",
        owner_id="o:1",
        ttl_seconds=1,
        state={"v": 0},
        messages=(msg("a"), msg("b", private=True), msg("c", role="tool")),
    )
    await store.append_messages(SPACE, "gone", [msg("d", role="system:x")])
    await store.write_state(SPACE, "gone", lambda _s, _v: {"v": 1}, 10)
    await store.update_thread(SPACE, "gone", lambda _row: {"owner_id": "o:2", "title": "t"})
    # Given its expiry after the fact, with every kind of key already there.
    await new_thread(store, "late", state={"v": 0}, messages=(msg("a"), msg("b", role="x")))
    await store.write_state(SPACE, "late", lambda _s, _v: {"v": 1}, 10)
    soon = format_ts(utc_now() + timedelta(seconds=1))
    await store.update_thread(SPACE, "late", lambda _row: {"expires_at": soon})
    # A space deleted with an expired thread and an expiring one in it.
    await store.create_space("s:2", "Two", {})
    await new_thread(store, "t", space_id="s:2", owner_id="o", ttl_seconds=1, messages=(msg(),))
    await new_thread(store, "u", space_id="s:2", ttl_seconds=3600, messages=(msg(),))
    assert await stored(settings) != before

    await expired(store, "gone")
    await expired(store, "late")
    await expired(store, "t", "s:2")
    assert await store.delete_space("s:2", force=True) is True
    if backend_of(settings.database_url) == "redis":
        # Redis deletes the thread's keys by itself; only its index entries wait.
        async def keys_expired() -> bool:
            keys = await stored(settings)
            return not any(":thread:" in key for key in keys - before)

        await eventually(keys_expired, "every key of the thread expired")
    assert await store.sweep_expired(100) == 2
    assert await stored(settings) == before
    assert await store.sweep_expired(100) == 0


async def test_purged_owners_leave_nothing_behind(settings: Settings, store: Store) -> None:
    await new_thread(store, "kept", owner_id="o2", messages=(msg(),))
    before = await stored(settings)
    await new_thread(store, "t1", owner_id="o:1", ttl_seconds=3600, messages=(msg(),))
    await new_thread(store, "t2", owner_id="o:1", state={"v": 1}, messages=(msg(role="tool"),))
    await store.write_state(SPACE, "t2", lambda _s, _v: {"v": 2}, 10)
    assert await store.purge_owner(SPACE, "o:1") == 2
    assert await stored(settings) == before
