"""``client.assistants`` on ``AsyncClient`` and on the blocking ``Client``, both against the
app in process, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import anyio.from_thread
import httpx
import pytest
from fastapi import FastAPI

from tests.client.conftest import BASE_URL, in_process
from tests.fixtures.app import services_of
from threadloom import (
    AlreadyExists,
    Assistant,
    AsyncClient,
    Client,
    Forbidden,
    NotFound,
    Page,
    ValidationFailed,
)

pytestmark = pytest.mark.anyio

SPACE = "default"


class BlockingASGITransport(httpx.BaseTransport):
    """A blocking transport for a ``Client`` that runs in a worker thread: each request is
    handled by the app on the test's event loop, where its lifespan runs."""

    def __init__(self, app: FastAPI) -> None:
        self._inner = httpx.ASGITransport(app=app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def send() -> httpx.Response:
            response = await self._inner.handle_async_request(request)
            content = await response.aread()
            return httpx.Response(
                response.status_code, headers=response.headers, content=content, request=request
            )

        return anyio.from_thread.run(send)


@pytest.fixture
async def admin_and_writer(app: FastAPI) -> AsyncIterator[tuple[AsyncClient, AsyncClient, str]]:
    """An admin client, a client of a writer key of ``default``, and the writer key's id."""
    keys = services_of(app).keys
    admin_key, _ = await keys.create("admin", None, "admin")
    writer_key, writer = await keys.create("writer", SPACE, "writer")
    async with in_process(app, admin_key) as admin, in_process(app, writer_key) as w:
        yield admin, w, writer["id"]


class TestAsyncAssistants:
    async def test_create_get_list_update_delete(self, client: AsyncClient) -> None:
        ada = await client.assistants.create(
            SPACE, "Ada", id="ada", model="m1", temperature=0.5, metadata={"team": "a"}
        )
        assert isinstance(ada, Assistant)
        assert (ada.id, ada.name, ada.model, ada.temperature) == ("ada", "Ada", "m1", 0.5)
        assert ada.context_tokens == 8192
        assert ada.has_unlock_phrase is False
        assert await client.assistants.get(SPACE, "ada") == ada

        updated = await client.assistants.update(
            SPACE, "ada", name="Ada 2", model=None, metadata={"team": None, "n": 1}
        )
        assert (updated.name, updated.model, updated.metadata) == ("Ada 2", None, {"n": 1})
        assert updated.temperature == 0.5

        for n in range(3):
            await client.assistants.create(SPACE, f"B{n}", id=f"b{n}")
        page = await client.assistants.list(SPACE, limit=2)
        assert isinstance(page, Page)
        assert [a.id for a in page.data] == ["ada", "b0"]
        assert page.has_more
        assert [a.id async for a in client.assistants.iter(SPACE, limit=1)] == [
            "ada",
            "b0",
            "b1",
            "b2",
        ]

        await client.assistants.delete(SPACE, "ada")
        with pytest.raises(NotFound):
            await client.assistants.get(SPACE, "ada")
        with pytest.raises(NotFound):
            await client.assistants.delete(SPACE, "ada")

    async def test_errors(self, client: AsyncClient) -> None:
        await client.assistants.create(SPACE, "Ada", id="ada")
        with pytest.raises(AlreadyExists):
            await client.assistants.create(SPACE, "Ada")
        with pytest.raises(ValidationFailed) as failed:
            await client.assistants.create(SPACE, "x", temperature=3)
        assert failed.value.errors is not None
        assert failed.value.errors[0]["loc"] == ["body", "temperature"]

    async def test_one_create_per_idempotency_key(self, client: AsyncClient) -> None:
        first = await client.assistants.create(SPACE, "Ada", idempotency_key="k")
        again = await client.assistants.create(SPACE, "Ada", idempotency_key="k")
        assert again == first
        assert [a.id for a in (await client.assistants.list(SPACE)).data] == [first.id]

    async def test_private_assistants(
        self, admin_and_writer: tuple[AsyncClient, AsyncClient, str]
    ) -> None:
        admin, writer, writer_id = admin_and_writer
        with pytest.raises(Forbidden):
            await writer.assistants.create(SPACE, "Secret", private=True)
        secret = await admin.assistants.create(
            SPACE, "Secret", id="secret", private=True, unlock_phrase="open sesame please"
        )
        assert (secret.private, secret.has_unlock_phrase, secret.grants) == (True, True, [])
        with pytest.raises(NotFound):
            await writer.assistants.get(SPACE, "secret")
        assert (await writer.assistants.list(SPACE)).data == []

        granted = await admin.assistants.update(SPACE, "secret", grants=[writer_id])
        assert granted.grants == [writer_id]
        seen = await writer.assistants.get(SPACE, "secret")
        assert (seen.id, seen.grants) == ("secret", [])
        with pytest.raises(Forbidden):
            await writer.assistants.update(SPACE, "secret", name="Mine")
        removed = await admin.assistants.update(SPACE, "secret", unlock_phrase=None)
        assert removed.has_unlock_phrase is False

    async def test_a_short_unlock_phrase_comes_back_with_a_warning(
        self, admin_and_writer: tuple[AsyncClient, AsyncClient, str]
    ) -> None:
        admin, _, _ = admin_and_writer
        bob = await admin.assistants.create(
            SPACE, "Private-Bob", private=True, unlock_phrase="973808"
        )
        assert [(w.code, "8 characters" in w.detail) for w in bob.warnings] == [
            ("short_unlock_phrase", True)
        ]
        assert (await admin.assistants.get(SPACE, bob.id)).warnings == []
        changed = await admin.assistants.update(SPACE, bob.id, unlock_phrase="a longer phrase")
        assert changed.warnings == []


async def test_the_blocking_client(app: FastAPI) -> None:
    def work() -> None:
        with Client(BASE_URL, transport=BlockingASGITransport(app), max_retries=0) as client:
            ada = client.assistants.create(SPACE, "Ada", id="ada", provider="offline")
            assert (ada.id, ada.provider) == ("ada", "offline")
            assert client.assistants.get(SPACE, "ada") == ada
            client.assistants.create(SPACE, "Grace", id="grace")
            assert [a.id for a in client.assistants.list(SPACE).data] == ["ada", "grace"]
            assert [a.id for a in client.assistants.iter(SPACE, limit=1)] == ["ada", "grace"]
            changed = client.assistants.update(SPACE, "ada", provider=None, max_tokens=64)
            assert (changed.provider, changed.max_tokens) == (None, 64)
            client.assistants.delete(SPACE, "ada")
            with pytest.raises(NotFound):
                client.assistants.get(SPACE, "ada")

    await anyio.to_thread.run_sync(work)
