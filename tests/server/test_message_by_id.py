"""One message by its id, on every backend: ``GET`` and ``DELETE
.../threads/{thread}/messages/{message_id}``. A deletion counts the message off its thread,
leaves every other message's ``seq`` as it was and never gives its number again, pages read
past the gap in both directions, and a ``message.deleted`` event tells the thread's
subscribers."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures.app import services_of
from tests.server.asgi_calls import call

pytestmark = pytest.mark.anyio

THREADS = "/v1/spaces/default/threads"


async def _thread(api: httpx.AsyncClient, count: int) -> list[dict[str, Any]]:
    assert (await api.post(THREADS, json={"id": "t"})).status_code == 201
    if not count:
        return []
    body = {"messages": [{"id": f"m{n}", "content": f"message {n}"} for n in range(count)]}
    response = await api.post(f"{THREADS}/t/messages/batch", json=body)
    assert response.status_code == 201, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def _walk(api: httpx.AsyncClient, order: str, limit: int) -> list[str]:
    ids: list[str] = []
    params: dict[str, Any] = {"order": order, "limit": limit}
    while True:
        page = (await api.get(f"{THREADS}/t/messages", params=params)).json()
        ids += [m["id"] for m in page["data"]]
        assert len(page["data"]) == limit or not page["has_more"]
        if not page["has_more"]:
            return ids
        params["after"] = page["last_id"]


async def test_a_message_is_read_by_its_id(api: httpx.AsyncClient) -> None:
    made = await _thread(api, 3)
    response = await api.get(f"{THREADS}/t/messages/m1")
    assert response.status_code == 200
    assert response.json() == made[1]
    for path in (f"{THREADS}/t/messages/nope", f"{THREADS}/nope/messages/m1"):
        missing = await api.get(path)
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"


async def test_a_deleted_message_is_gone_and_the_others_keep_their_numbers(
    api: httpx.AsyncClient,
) -> None:
    made = await _thread(api, 3)
    deleted = await api.delete(f"{THREADS}/t/messages/m1")
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"object": "message.deleted", "id": "m1", "deleted": True}
    assert (await api.get(f"{THREADS}/t/messages/m1")).status_code == 404
    assert (await api.delete(f"{THREADS}/t/messages/m1")).status_code == 404
    page = (await api.get(f"{THREADS}/t/messages")).json()["data"]
    assert page == [made[0], made[2]]
    assert (await api.get(f"{THREADS}/t")).json()["message_count"] == 2
    # Its number is not given again: the next message comes after the last one.
    later = await api.post(f"{THREADS}/t/messages", json={"content": "later"})
    assert later.json()["seq"] == made[2]["seq"] + 1
    # Its id is free again.
    again = await api.post(f"{THREADS}/t/messages", json={"id": "m1", "content": "again"})
    assert again.status_code == 201


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_pages_read_past_deleted_messages(api: httpx.AsyncClient, order: str) -> None:
    await _thread(api, 30)
    gone = {f"m{n}" for n in (0, 3, 4, 5, 6, 7, 8, 15, 28, 29)}
    for message_id in gone:
        assert (await api.delete(f"{THREADS}/t/messages/{message_id}")).status_code == 200
    left = [f"m{n}" for n in range(30) if f"m{n}" not in gone]
    expected = left if order == "asc" else left[::-1]
    for limit in (1, 4, 7, 100):
        assert await _walk(api, order, limit) == expected, limit
    by_role = await api.get(f"{THREADS}/t/messages", params={"role": "user", "limit": 100})
    assert [m["id"] for m in by_role.json()["data"]] == left


async def test_deleting_takes_a_writer_and_an_active_thread(
    api: httpx.AsyncClient, app: FastAPI
) -> None:
    await _thread(api, 2)
    keys = services_of(app).keys
    reader, _ = await keys.create("reader", "default", "reader")
    writer = {"x-api-key": (await keys.create("writer", "default", "writer"))[0]}
    refused = await api.delete(f"{THREADS}/t/messages/m0", headers={"x-api-key": reader})
    assert refused.status_code == 403
    assert (await api.delete(f"{THREADS}/t", headers=writer)).status_code == 200  # archived
    archived = await api.delete(f"{THREADS}/t/messages/m0", headers=writer)
    assert archived.status_code == 409
    assert (await api.post(f"{THREADS}/t/restore", headers=writer)).status_code == 200
    assert (await api.get(f"{THREADS}/t/messages/m0", headers=writer)).status_code == 200
    deleted = await api.delete(f"{THREADS}/t/messages/m0", headers=writer)
    assert deleted.status_code == 200


async def test_a_deletion_is_an_event(api: httpx.AsyncClient, app: FastAPI) -> None:
    await _thread(api, 2)

    async def delete() -> None:
        assert (await api.delete(f"{THREADS}/t/messages/m0")).status_code == 200

    reply = await call(
        app, "GET", f"{THREADS}/t/events", after_start=delete, stop_at=b"message.deleted"
    )
    assert reply.status == 200
    assert b"event: message.deleted" in reply.body
    assert b'"id":"m0"' in reply.body
