"""Redis only: what the contract cannot see from outside (atomic appends across many
connections, the key prefix, nothing left behind, the scan of filtered listings)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.fixtures.databases import delete_redis_prefix
from threadloom.config import Settings
from threadloom.errors import ServiceUnavailable
from threadloom.models import MessageCreate, ThreadCreate
from threadloom.store import Store, create_store
from threadloom.store.base import MessageQuery, ThreadQuery
from threadloom.store.migrate import migrate
from threadloom.store.redis import RedisStore, threads
from threadloom.store.urls import backend_of

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

SPACE = "default"


@pytest.fixture
def database_url(redis_url: str) -> str:
    return redis_url


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


async def keys_under(client: aioredis.Redis, prefix: str) -> set[str]:
    return {key.decode() async for key in client.scan_iter(match=f"{prefix}:*", count=1000)}


def msg(content: str = "hi", **kwargs: Any) -> MessageCreate:
    return MessageCreate(role="user", content=content, **kwargs)


async def test_the_url_picks_redis_and_migrate_does_nothing(
    settings: Settings, redis_url: str, raw: aioredis.Redis
) -> None:
    assert backend_of(redis_url) == "redis"
    assert backend_of("rediss://example:6380/1") == "redis"
    migrate(redis_url)
    assert await keys_under(raw, settings.redis_prefix) == set()
    assert isinstance(create_store(settings), RedisStore)


async def test_opening_creates_the_default_space_once(settings: Settings, store: Store) -> None:
    assert await store.get_space(SPACE) is not None
    assert await store.delete_space(SPACE, force=False) is True
    again = create_store(settings)
    await again.open()
    try:
        # Like a migration: it ran once, so a deleted default space stays deleted.
        assert await again.get_space(SPACE) is None
    finally:
        await again.close()


async def test_concurrent_appends_from_many_connections_are_gapless(
    settings: Settings, store: Store
) -> None:
    await store.create_thread(SPACE, "t1", ThreadCreate(), [msg("seed")])
    stores = [store]
    for _ in range(3):
        other = create_store(settings)
        await other.open()
        stores.append(other)
    try:
        batches = await asyncio.gather(
            *(
                stores[n % len(stores)].append_messages(
                    SPACE, "t1", [msg(f"{n}.{i}") for i in range(1 + n % 3)]
                )
                for n in range(300)
            )
        )
    finally:
        for other in stores[1:]:
            await other.close()
    total = 1 + sum(1 + n % 3 for n in range(300))
    for rows in batches:
        seqs = [m["seq"] for m in rows]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert sorted(m["seq"] for rows in batches for m in rows) == list(range(2, total + 1))
    thread = await store.get_thread(SPACE, "t1")
    assert thread is not None
    assert thread["message_count"] == total
    page = await store.list_messages(SPACE, "t1", MessageQuery(limit=total + 5, order="desc"))
    assert page is not None
    assert [m["seq"] for m in page.rows] == list(range(total, 0, -1))


async def test_two_prefixes_do_not_see_each_other(
    settings: Settings, store: Store, redis_url: str, raw: aioredis.Redis
) -> None:
    other_prefix = f"{settings.redis_prefix}-other"
    other = create_store(settings.model_copy(update={"redis_prefix": other_prefix}))
    await other.open()
    try:
        await store.create_thread(SPACE, "t1", ThreadCreate(title="mine"), [msg("a")])
        await store.create_space("s1", "One", {})
        await store.create_api_key(
            {
                "id": "k1",
                "key_hash": "h1",
                "prefix": "tl_1",
                "name": None,
                "role": "admin",
                "space_id": None,
            }
        )
        assert await other.get_thread(SPACE, "t1") is None
        assert await other.get_space("s1") is None
        assert await other.find_api_key("h1") is None
        assert await other.count_api_keys(include_revoked=True) == 0
        assert [s["id"] for s in (await other.list_spaces(10, None, None, None)).rows] == [
            "default"
        ]
        # The same ids under the other prefix are other resources.
        await other.create_thread(SPACE, "t1", ThreadCreate(title="theirs"), [])
        mine = await store.get_thread(SPACE, "t1")
        assert mine is not None
        assert (mine["title"], mine["message_count"]) == ("mine", 1)
        await other.purge_thread(SPACE, "t1")
        assert await store.get_thread(SPACE, "t1") is not None
        assert await keys_under(raw, other_prefix) == {
            f"{other_prefix}:schema",
            f"{other_prefix}:spaces",
            f"{other_prefix}:space:default",
        }
    finally:
        await other.close()
        client = aioredis.Redis.from_url(redis_url)
        try:
            async for key in client.scan_iter(match=f"{other_prefix}:*"):
                await client.unlink(key)
        finally:
            await client.aclose()


async def test_purge_leaves_nothing_of_the_thread(
    settings: Settings, store: Store, raw: aioredis.Redis
) -> None:
    before = await keys_under(raw, settings.redis_prefix)
    await store.create_thread(
        SPACE,
        "t:1",
        ThreadCreate(owner_id="o:1", state={"v": 1}, metadata={"k": "v"}),
        [msg("a"), msg("b", private=True), MessageCreate(role="tool", content="c")],
    )
    await store.write_state(SPACE, "t:1", lambda _s, _v: {"v": 2}, 10)
    await store.update_thread(SPACE, "t:1", lambda _row: {"owner_id": "o:2", "title": "x"})
    assert len(await keys_under(raw, settings.redis_prefix)) > len(before)

    assert await store.purge_thread(SPACE, "t:1") is True
    assert await keys_under(raw, settings.redis_prefix) == before


async def test_deleting_a_space_leaves_nothing_of_it(
    settings: Settings, store: Store, raw: aioredis.Redis
) -> None:
    before = await keys_under(raw, settings.redis_prefix)
    await store.create_space("s:1", "One", {})
    for n in range(5):
        await store.create_thread("s:1", f"t{n}", ThreadCreate(owner_id=f"o{n % 2}"), [msg()])
    await store.create_api_key(
        {
            "id": "k1",
            "key_hash": "h1",
            "prefix": "tl_1",
            "name": None,
            "role": "reader",
            "space_id": "s:1",
        }
    )
    await store.create_assistant(
        "s:1", {"id": "a1", "name": "A", "context_tokens": 10, "private": True, "grants": ["k1"]}
    )
    assert await store.delete_space("s:1", force=True) is True
    assert await keys_under(raw, settings.redis_prefix) == before


async def test_ids_with_separators_never_collide(store: Store) -> None:
    await store.create_space("a:b", "AB", {})
    await store.create_space("a", "A", {})
    await store.create_thread("a:b", "c", ThreadCreate(title="in a:b"), [msg("1")])
    await store.create_thread("a", "b:c", ThreadCreate(title="in a"), [])
    await store.create_thread("a", "b%3Ac", ThreadCreate(title="escaped lookalike"), [])
    first = await store.get_thread("a:b", "c")
    second = await store.get_thread("a", "b:c")
    third = await store.get_thread("a", "b%3Ac")
    assert first is not None
    assert second is not None
    assert third is not None
    assert (first["title"], second["title"], third["title"]) == (
        "in a:b",
        "in a",
        "escaped lookalike",
    )
    assert second["message_count"] == 0
    listed = await store.list_threads("a", ThreadQuery(limit=10, order="asc"))
    assert sorted(row["id"] for row in listed.rows) == ["b%3Ac", "b:c"]


async def test_filtered_listing_resumes_its_scan(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a tiny scan budget a page needs several script calls; it must still be exact."""
    monkeypatch.setattr(threads, "_SCAN_BUDGET", 2)
    for n in range(20):
        await store.create_thread(
            SPACE, f"t{n:02}", ThreadCreate(metadata={"even": n % 2 == 0}), []
        )
    expected = [f"t{n:02}" for n in range(20) if n % 10 == 0]
    for n in range(20):
        if n % 5:
            await store.update_thread(SPACE, f"t{n:02}", lambda _row: {"metadata": {"x": 1}})
    got: list[str] = []
    after: tuple[str, str] | None = None
    while True:
        page = await store.list_threads(
            SPACE,
            ThreadQuery(
                limit=2,
                order_by="created_at",
                order="asc",
                metadata=[("even", "true")],
                after=after,
            ),
        )
        got += [row["id"] for row in page.rows]
        if not page.has_more:
            break
        after = (page.rows[-1]["created_at"], page.rows[-1]["id"])
    assert got == expected


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_unreachable_server_is_service_unavailable() -> None:
    store = RedisStore(
        f"redis://:s3cr3t-pw@127.0.0.1:{_closed_port()}/0", prefix=f"t-{uuid.uuid4().hex}"
    )
    with pytest.raises(ServiceUnavailable) as caught:
        await store.open()
    message = str(caught.value)
    assert "Redis" in message
    assert "s3cr3t-pw" not in message
    assert "redis://" not in message
    assert "s3cr3t-pw" not in repr(store)
    with pytest.raises(ServiceUnavailable):
        await store.ping()
    await store.close()


def test_prefix_cleanup_helper_deletes_only_its_prefix(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        mine, theirs = f"cleanup-{uuid.uuid4().hex}", f"cleanup-{uuid.uuid4().hex}"
        client.set(f"{mine}:a", 1)
        client.set(f"{mine}:b:c", 1)
        client.set(f"{theirs}:a", 1)
        delete_redis_prefix(client, mine)
        assert client.exists(f"{mine}:a", f"{mine}:b:c") == 0
        assert client.exists(f"{theirs}:a") == 1
        client.unlink(f"{theirs}:a")
    finally:
        client.close()


async def test_a_store_of_schema_1_gets_the_match_fields_when_it_opens(
    settings: Settings, store: Store, raw: aioredis.Redis
) -> None:
    """Thread hashes written before schema 2 had ``title_lc`` (lower-cased) and ``m:KEY``
    in text form; opening the store rewrites them into the fields the filters read now."""
    await store.create_thread(
        SPACE, "old", ThreadCreate(title="Straße", metadata={"v": 1e20, "o": {"x": 1}}), []
    )
    prefix = settings.redis_prefix
    key = f"{prefix}:thread:{SPACE}:old"
    await raw.hdel(key, "title_folded", "m:v")
    await raw.hset(key, mapping={"title_lc": "straße", "m:v": "1e+20", "m:o": '{"x":1}'})
    await raw.set(f"{prefix}:schema", "1")

    reopened = create_store(settings)
    await reopened.open()
    try:
        assert await raw.get(f"{prefix}:schema") == b"2"
        fields = await raw.hgetall(key)
        assert b"title_lc" not in fields
        assert b"m:o" not in fields
        assert fields[b"title_folded"] == b"strasse"
        for query in (
            ThreadQuery(limit=5, q="STRASSE"),
            ThreadQuery(limit=5, metadata=[("v", "100000000000000000000")]),
        ):
            page = await reopened.list_threads(SPACE, query)
            assert [row["id"] for row in page.rows] == ["old"]
        found = await reopened.list_threads(
            SPACE, ThreadQuery(limit=5, metadata=[("o", '{"x":1}')])
        )
        assert found.rows == []
    finally:
        await reopened.close()
