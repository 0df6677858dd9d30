"""Retention through the Python client: ``ttl_seconds`` on threads, a space's default, and
``spaces.purge_owner``, async against the app in process (every database) and sync against
a recorded transport."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from threadloom import AsyncClient, Client, NotFound, Thread, ValidationFailed
from threadloom.timestamps import parse_ts

pytestmark = pytest.mark.anyio

SPACE = "default"


def lifetime(thread: Thread) -> timedelta:
    assert thread.expires_at is not None
    return parse_ts(thread.expires_at) - parse_ts(thread.created_at)


class TestAsync:
    async def test_thread_ttl(self, client: AsyncClient) -> None:
        thread = await client.threads.create(SPACE, id="t1", ttl_seconds=60)
        assert lifetime(thread) == timedelta(seconds=60)
        assert (await client.threads.get(SPACE, "t1")).expires_at == thread.expires_at
        moved = await client.threads.update(SPACE, "t1", ttl_seconds=3600)
        assert lifetime(moved) > lifetime(thread)
        kept = await client.threads.update(SPACE, "t1", ttl_seconds=None)
        assert kept.expires_at is None
        plain = await client.threads.create(SPACE, id="t2")
        assert plain.expires_at is None

    async def test_thread_expires_at(self, client: AsyncClient) -> None:
        when = datetime.now(UTC).replace(microsecond=250_000) + timedelta(days=2)
        thread = await client.threads.create(SPACE, id="t1", expires_at=when)
        assert thread.expires_at is not None
        assert parse_ts(thread.expires_at) == when
        # RFC 3339 text with another offset names the same instant.
        text = when.astimezone(timezone(timedelta(hours=2))).isoformat()
        other = await client.threads.create(SPACE, id="t2", expires_at=text)
        assert other.expires_at == thread.expires_at
        with pytest.raises(ValidationFailed):
            await client.threads.create(SPACE, id="t3", expires_at=when, ttl_seconds=60)
        with pytest.raises(ValidationFailed):
            await client.threads.create(SPACE, id="t4", expires_at=datetime.now(UTC))

    async def test_space_default(self, client: AsyncClient) -> None:
        space = await client.spaces.create(id="s1", default_thread_ttl_seconds=120)
        assert space.default_thread_ttl_seconds == 120
        assert lifetime(await client.threads.create("s1")) == timedelta(seconds=120)
        renamed = await client.spaces.update("s1", name="One")
        assert renamed.default_thread_ttl_seconds == 120
        removed = await client.spaces.update("s1", default_thread_ttl_seconds=None)
        assert removed.default_thread_ttl_seconds is None
        assert (await client.threads.create("s1")).expires_at is None

    async def test_purge_owner(self, client: AsyncClient) -> None:
        await client.threads.create(SPACE, id="a", owner_id="o1")
        await client.threads.create(SPACE, id="b", owner_id="o1")
        await client.threads.create(SPACE, id="c", owner_id="o2")
        assert await client.spaces.purge_owner(SPACE, "o1") == 2
        assert await client.spaces.purge_owner(SPACE, "o1") == 0
        with pytest.raises(NotFound):
            await client.threads.get(SPACE, "a")
        assert [t.id async for t in client.threads.iter(SPACE)] == ["c"]
        with pytest.raises(NotFound):
            await client.spaces.purge_owner("nowhere", "o1")


def test_sync_client_sends_and_reads_retention() -> None:
    sent: list[httpx.Request] = []
    space: dict[str, object] = {
        "object": "space",
        "id": "s1",
        "name": "s1",
        "metadata": {},
        "created_at": "2026-01-01T00:00:00.000000Z",
        "default_thread_ttl_seconds": None,
    }

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.url.path.endswith("/purge"):
            return httpx.Response(200, json={"object": "purge", "owner_id": "o1", "deleted": 7})
        return httpx.Response(200, json=space)

    with Client("http://localhost", transport=httpx.MockTransport(answer), max_retries=0) as c:
        assert c.spaces.purge_owner("s1", "o1") == 7
        assert c.spaces.update("s1", default_thread_ttl_seconds=None).id == "s1"
        c.spaces.update("s1", name="One")
    purge, remove, rename = sent
    assert (purge.method, purge.url.path) == ("POST", "/v1/spaces/s1/purge")
    assert json.loads(purge.content) == {"owner_id": "o1"}
    assert json.loads(remove.content) == {"default_thread_ttl_seconds": None}
    assert json.loads(rename.content) == {"name": "One"}
