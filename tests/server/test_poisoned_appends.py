"""Bad appends among concurrent good ones, over HTTP on every backend: each bad one is a
4xx problem of its own (refused at the edge, or by the store for that append alone), and
every good one is stored, in the same thread and in another space's."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures.app import services_of

pytestmark = pytest.mark.anyio

NUL = b'{"content": "a NUL \\u0000 in text"}'
BAD_BODIES = [
    b'{"content": "a lone \\ud800 surrogate"}',
    b'{"content": "huge", "metadata": {"n": 1180591620717411303424}}',
]


def bad_bodies(backend: str) -> list[bytes]:
    """Values refused on this backend even before the edge validates them (SQLite and
    Redis can store a NUL)."""
    return [*BAD_BODIES, NUL] if backend == "postgres" else BAD_BODIES


async def test_bad_appends_fail_alone(app: FastAPI, api: httpx.AsyncClient) -> None:
    bodies = bad_bodies(services_of(app).store.backend)
    space = await api.post("/v1/spaces", json={"id": "other", "name": "Other"})
    assert space.status_code == 201, space.text
    for space_id in ("default", "other"):
        thread = await api.post(f"/v1/spaces/{space_id}/threads", json={"id": "t"})
        assert thread.status_code == 201, thread.text

    def path(space_id: str) -> str:
        return f"/v1/spaces/{space_id}/threads/t/messages"

    async def good(n: int) -> httpx.Response:
        space_id = "default" if n % 2 else "other"
        return await api.post(path(space_id), json={"content": f"good {n}"})

    async def bad(body: bytes) -> httpx.Response:
        headers = {"content-type": "application/json"}
        return await api.post(path("default"), content=body, headers=headers)

    responses = await asyncio.gather(
        *(good(n) for n in range(20)),
        *(bad(b) for b in bodies),
        *(good(n) for n in range(20, 40)),
    )
    goods = responses[:20] + responses[20 + len(bodies) :]
    assert [r.status_code for r in goods] == [201] * 40, [r.text for r in goods]
    for response in responses[20 : 20 + len(bodies)]:
        assert 400 <= response.status_code < 500, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
    for space_id in ("default", "other"):
        page = await api.get(path(space_id), params={"limit": 100})
        stored = page.json()["data"]
        assert len(stored) == 20
        assert [m["seq"] for m in stored] == list(range(1, 21))
        assert all(m["content"].startswith("good ") for m in stored)
