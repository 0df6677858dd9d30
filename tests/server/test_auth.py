"""Authentication and authorization over HTTP: key headers, 401/403/404, space isolation,
reader restrictions, private messages, admin-only routes, the original API's space, a key
asking who it is, and keys stored only as hashes."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
from fastapi import FastAPI

from tests.fixtures.app import services_of
from tests.fixtures.databases import make_settings
from threadloom.config import Settings
from threadloom.store.urls import backend_of

pytestmark = pytest.mark.anyio

PROBLEMS = "https://threadloom.dev/problems/"


@pytest.fixture
def settings(database_url: str) -> Settings:
    """No key cache: a key revoked in the database is refused on the next request."""
    return make_settings(
        database_url=database_url,
        migrate_on_start=False,
        key_cache_seconds=0,
    )


def key_header(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEMS + slug
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert body["instance"] == response.request.url.path
    return body


@dataclass
class World:
    """Spaces ``alpha`` and ``beta`` with keys and a seeded thread ``t1`` in each."""

    admin: str
    admin_id: str
    writer_a: str
    writer_a_id: str
    reader_a: str
    reader_a_id: str
    writer_b: str


@pytest.fixture
async def world(app: FastAPI, api: httpx.AsyncClient) -> World:
    services = services_of(app)
    await services.store.create_space("alpha", "Alpha", {})
    await services.store.create_space("beta", "Beta", {})
    admin, admin_row = await services.keys.create("admin", None, "root")
    writer_a, writer_a_row = await services.keys.create("writer", "alpha", "writer a")
    reader_a, reader_a_row = await services.keys.create("reader", "alpha", "reader a")
    writer_b, _ = await services.keys.create("writer", "beta", "writer b")
    for space, key in (("alpha", writer_a), ("beta", writer_b)):
        created = await api.post(
            f"/v1/spaces/{space}/threads",
            json={"id": "t1", "title": "original", "state": {"v": 1}},
            headers=key_header(key),
        )
        assert created.status_code == 201, created.text
        batch = await api.post(
            f"/v1/spaces/{space}/threads/t1/messages/batch",
            json={
                "messages": [
                    {"role": "user", "content": "hello"},
                    {"role": "assistant", "content": "secret note", "private": True},
                ]
            },
            headers=key_header(key),
        )
        assert batch.status_code == 201, batch.text
    return World(
        admin=admin,
        admin_id=admin_row["id"],
        writer_a=writer_a,
        writer_a_id=writer_a_row["id"],
        reader_a=reader_a,
        reader_a_id=reader_a_row["id"],
        writer_b=writer_b,
    )


async def thread_snapshot(api: httpx.AsyncClient, key: str, space: str) -> dict[str, Any]:
    """Everything a write could change on thread t1, read with a key that may see it."""
    thread = await api.get(f"/v1/spaces/{space}/threads/t1", headers=key_header(key))
    assert thread.status_code == 200, thread.text
    body = thread.json()
    messages = await api.get(
        f"/v1/spaces/{space}/threads/t1/messages",
        params={"include_private": "true"},
        headers=key_header(key),
    )
    assert messages.status_code == 200, messages.text
    threads = await api.get(
        f"/v1/spaces/{space}/threads", params={"status": "all"}, headers=key_header(key)
    )
    assert threads.status_code == 200, threads.text
    return {
        "title": body["title"],
        "status": body["status"],
        "state": body["state"],
        "state_version": body["state_version"],
        "message_count": body["message_count"],
        "messages": [m["content"] for m in messages.json()["data"]],
        "threads": sorted(t["id"] for t in threads.json()["data"]),
    }


# Keys and headers -------------------------------------------------------------------------


async def test_open_until_the_first_key_exists(app: FastAPI, api: httpx.AsyncClient) -> None:
    assert (await api.get("/v1/spaces")).status_code == 200
    await services_of(app).keys.create("admin", None, "first")
    response = await api.get("/v1/spaces")
    body = assert_problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"] == 'Bearer realm="threadloom"'
    assert "X-API-Key" in body["detail"]


async def test_keyless_access_is_only_through_loopback(app: FastAPI) -> None:
    """Served on a public address by something other than `threadloom serve` (so the
    settings still say loopback), a keyless server stays closed to the network."""
    transport = httpx.ASGITransport(app=app)  # in process: no packet leaves the machine
    async with httpx.AsyncClient(transport=transport, base_url="http://192.0.2.10") as remote:
        assert_problem(await remote.get("/v1/spaces"), 401, "unauthenticated")
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as local:
        assert (await local.get("/v1/spaces")).status_code == 200


async def test_revoking_every_key_keeps_authentication_on(
    app: FastAPI, api: httpx.AsyncClient
) -> None:
    _, row = await services_of(app).keys.create("admin", None, "only")
    await services_of(app).keys.revoke(row["id"])
    assert_problem(await api.get("/v1/spaces"), 401, "unauthenticated")


@pytest.mark.usefixtures("world")
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/spaces"),
        ("GET", "/v1/spaces/alpha"),
        ("GET", "/v1/spaces/alpha/threads"),
        ("GET", "/v1/spaces/alpha/threads/t1"),
        ("GET", "/v1/spaces/alpha/threads/t1/messages"),
        ("GET", "/v1/spaces/alpha/threads/t1/state"),
        ("POST", "/v1/spaces/alpha/threads"),
        ("GET", "/v1/keys"),
        ("GET", "/threads/t1"),
        ("POST", "/threads/"),
    ],
)
async def test_no_key_is_401_once_a_key_exists(
    api: httpx.AsyncClient, method: str, path: str
) -> None:
    json: dict[str, object] | None = {} if method == "POST" else None
    response = await api.request(method, path, json=json)
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"].startswith("Bearer ")


@pytest.mark.usefixtures("world")
async def test_health_needs_no_key(api: httpx.AsyncClient) -> None:
    assert (await api.get("/healthz")).status_code == 200


async def test_both_header_forms_are_accepted(api: httpx.AsyncClient, world: World) -> None:
    for headers in (
        {"X-API-Key": world.writer_a},
        {"Authorization": f"Bearer {world.writer_a}"},
        {"Authorization": f"bearer {world.writer_a}"},
    ):
        response = await api.get("/v1/spaces/alpha/threads/t1", headers=headers)
        assert response.status_code == 200, (headers, response.text)
        assert response.json()["id"] == "t1"


@pytest.mark.usefixtures("world")
@pytest.mark.parametrize(
    "headers",
    [
        {"X-API-Key": "tl_" + "A" * 43},
        {"Authorization": "Bearer tl_not-a-real-key"},
        {"X-API-Key": "garbage"},
    ],
)
async def test_unknown_key_is_401(api: httpx.AsyncClient, headers: dict[str, str]) -> None:
    response = await api.get("/v1/spaces/alpha/threads", headers=headers)
    assert_problem(response, 401, "unauthenticated")
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


@pytest.mark.usefixtures("world")
async def test_empty_bearer_is_a_missing_key(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/spaces", headers={"Authorization": "Bearer "})
    assert_problem(response, 401, "unauthenticated")


async def test_a_key_revoked_through_the_api_is_refused(
    api: httpx.AsyncClient, world: World
) -> None:
    path = "/v1/spaces/alpha/threads/t1"
    assert (await api.get(path, headers=key_header(world.writer_a))).status_code == 200
    revoked = await api.delete(f"/v1/keys/{world.writer_a_id}", headers=key_header(world.admin))
    assert revoked.status_code == 204, revoked.text
    assert_problem(await api.get(path, headers=key_header(world.writer_a)), 401, "unauthenticated")
    # Revoking twice: there is no active key of that id any more.
    again = await api.delete(f"/v1/keys/{world.writer_a_id}", headers=key_header(world.admin))
    assert_problem(again, 404, "not-found")


async def test_a_key_revoked_in_the_database_is_refused(
    app: FastAPI, api: httpx.AsyncClient, world: World
) -> None:
    """Revoked elsewhere (the CLI, another worker): with no cache, the next request sees it."""
    path = "/v1/spaces/alpha/threads/t1"
    assert (await api.get(path, headers=key_header(world.reader_a))).status_code == 200
    assert await services_of(app).store.revoke_api_key(world.reader_a_id)
    response = await api.get(path, headers={"Authorization": f"Bearer {world.reader_a}"})
    assert_problem(response, 401, "unauthenticated")
    # The other keys are untouched.
    assert (await api.get(path, headers=key_header(world.writer_a))).status_code == 200


async def test_keys_created_through_the_api(api: httpx.AsyncClient, world: World) -> None:
    admin = key_header(world.admin)
    created = await api.post(
        "/v1/keys", json={"role": "writer", "space_id": "alpha", "name": "ci"}, headers=admin
    )
    assert created.status_code == 201, created.text
    body = created.json()
    secret = body["key"]
    assert secret.startswith("tl_")
    assert body["role"] == "writer"
    assert body["space_id"] == "alpha"
    assert body["name"] == "ci"
    assert body["prefix"] == secret[:10]
    assert body["revoked_at"] is None
    assert "key_hash" not in body

    thread = await api.get("/v1/spaces/alpha/threads/t1", headers=key_header(secret))
    assert thread.status_code == 200
    other = await api.get("/v1/spaces/beta/threads/t1", headers=key_header(secret))
    assert_problem(other, 404, "not-found")

    listed = await api.get("/v1/keys", headers=admin)
    assert listed.status_code == 200
    assert body["id"] in {row["id"] for row in listed.json()}
    assert secret not in listed.text
    assert all("key" not in row and "key_hash" not in row for row in listed.json())

    reader = await api.post("/v1/keys", json={"role": "reader", "space_id": "beta"}, headers=admin)
    assert reader.status_code == 201
    reader_key = reader.json()["key"]
    assert (
        await api.get("/v1/spaces/beta/threads/t1", headers=key_header(reader_key))
    ).status_code == 200
    write = await api.post(
        "/v1/spaces/beta/threads/t1/messages", json={"content": "x"}, headers=key_header(reader_key)
    )
    assert_problem(write, 403, "forbidden")

    new_admin = await api.post("/v1/keys", json={"role": "admin"}, headers=admin)
    assert new_admin.status_code == 201
    assert new_admin.json()["space_id"] is None
    assert (await api.get("/v1/keys", headers=key_header(new_admin.json()["key"]))).is_success


@pytest.mark.parametrize(
    ("body", "status", "slug"),
    [
        ({"role": "admin", "space_id": "alpha"}, 422, "validation-error"),
        ({"role": "writer"}, 422, "validation-error"),
        ({"role": "reader", "space_id": "nowhere"}, 404, "not-found"),
        ({"role": "owner", "space_id": "alpha"}, 422, "validation-error"),
    ],
)
async def test_invalid_key_creation_is_refused(
    api: httpx.AsyncClient, world: World, body: dict[str, Any], status: int, slug: str
) -> None:
    before = await api.get("/v1/keys", headers=key_header(world.admin))
    response = await api.post("/v1/keys", json=body, headers=key_header(world.admin))
    assert_problem(response, status, slug)
    after = await api.get("/v1/keys", headers=key_header(world.admin))
    assert after.json() == before.json()


# A key asks who it is ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("holder", "role", "space_id"),
    [("admin", "admin", None), ("writer_a", "writer", "alpha"), ("reader_a", "reader", "alpha")],
)
async def test_every_key_learns_its_own_id_role_and_space(
    api: httpx.AsyncClient, world: World, holder: str, role: str, space_id: str | None
) -> None:
    secret = getattr(world, holder)
    response = await api.get("/v1/keys/me", headers=key_header(secret))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {  # exactly these: never the secret, its hash or its prefix
        "object": "api_key_identity",
        "key_id": getattr(world, f"{holder}_id"),
        "role": role,
        "space_id": space_id,
    }
    bearer = await api.get("/v1/keys/me", headers={"Authorization": f"Bearer {secret}"})
    assert bearer.json() == response.json()


@pytest.mark.usefixtures("world")
@pytest.mark.parametrize(
    "headers",
    [{}, {"X-API-Key": "tl_" + "A" * 43}, {"Authorization": "Bearer tl_not-a-real-key"}],
    ids=["no key", "unknown key", "unknown bearer"],
)
async def test_who_am_i_needs_a_valid_key_once_keys_exist(
    api: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await api.get("/v1/keys/me", headers=headers)
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"].startswith("Bearer ")


async def test_a_revoked_key_is_not_told_who_it_was(api: httpx.AsyncClient, world: World) -> None:
    revoked = await api.delete(f"/v1/keys/{world.reader_a_id}", headers=key_header(world.admin))
    assert revoked.status_code == 204, revoked.text
    response = await api.get("/v1/keys/me", headers=key_header(world.reader_a))
    assert_problem(response, 401, "unauthenticated")


async def test_without_keys_the_caller_is_the_open_admin(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/keys/me")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "object": "api_key_identity",
        "key_id": None,
        "role": "admin",
        "space_id": None,
    }


async def test_who_am_i_is_in_the_openapi_document(api: httpx.AsyncClient) -> None:
    operation = (await api.get("/openapi.json")).json()["paths"]["/v1/keys/me"]["get"]
    assert "application/problem+json" in operation["responses"]["401"]["content"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/ApiKeyIdentity")


# Isolation between spaces -----------------------------------------------------------------

FOREIGN_REQUESTS: list[tuple[str, str, Any]] = [
    ("GET", "/v1/spaces/{s}", None),
    ("GET", "/v1/spaces/{s}/threads", None),
    ("GET", "/v1/spaces/{s}/threads/t1", None),
    ("GET", "/v1/spaces/{s}/threads/t1/messages", None),
    ("GET", "/v1/spaces/{s}/threads/t1/state", None),
    ("GET", "/v1/spaces/{s}/threads/t1/state/history", None),
    ("POST", "/v1/spaces/{s}/threads", {"id": "intruder"}),
    ("POST", "/v1/spaces/{s}/threads", {}),
    ("POST", "/v1/spaces/{s}/threads/messages", {"message": {"content": "intruder"}}),
    ("POST", "/v1/spaces/{s}/threads/t1/messages", {"content": "intruder"}),
    ("POST", "/v1/spaces/{s}/threads/t1/messages/batch", {"messages": [{"content": "x"}]}),
    ("PUT", "/v1/spaces/{s}/threads/t1/state", {"state": "intruder"}),
    ("PATCH", "/v1/spaces/{s}/threads/t1/state", {"intruder": True}),
    ("PATCH", "/v1/spaces/{s}/threads/t1", {"title": "intruder"}),
    ("DELETE", "/v1/spaces/{s}/threads/t1", None),
    ("DELETE", "/v1/spaces/{s}/threads/t1?purge=true", None),
    ("POST", "/v1/spaces/{s}/threads/t1/restore", None),
]


async def _send(
    api: httpx.AsyncClient, key: str, method: str, path: str, body: Any
) -> httpx.Response:
    headers = key_header(key)
    if path.endswith("/state") and method == "PATCH":
        headers["Content-Type"] = "application/merge-patch+json"
        return await api.request(method, path, content=json.dumps(body), headers=headers)
    return await api.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize(("method", "template", "body"), FOREIGN_REQUESTS)
async def test_another_space_does_not_exist_for_a_scoped_key(
    api: httpx.AsyncClient, world: World, method: str, template: str, body: Any
) -> None:
    before = await thread_snapshot(api, world.writer_b, "beta")
    foreign = await _send(api, world.writer_a, method, template.format(s="beta"), body)
    missing = await _send(api, world.writer_a, method, template.format(s="nowhere"), body)
    problem = assert_problem(foreign, 404, "not-found")
    assert_problem(missing, 404, "not-found")
    # Byte for byte the answer about a space that does not exist, names aside.
    assert foreign.content.replace(b"beta", b"nowhere") == missing.content
    assert sorted(foreign.headers.keys()) == sorted(missing.headers.keys())
    assert problem.keys() == {"type", "title", "status", "detail", "instance"}
    assert problem["detail"] == "space 'beta' does not exist"
    # The same shape as a thread missing in the key's own space.
    own = assert_problem(
        await api.get("/v1/spaces/alpha/threads/nothing", headers=key_header(world.writer_a)),
        404,
        "not-found",
    )
    assert own.keys() == problem.keys()
    assert (own["type"], own["title"], own["status"]) == (
        problem["type"],
        problem["title"],
        problem["status"],
    )
    # Nothing in beta moved, and the admin still sees it all.
    assert await thread_snapshot(api, world.writer_b, "beta") == before
    assert await thread_snapshot(api, world.admin, "beta") == before


async def test_a_reader_of_another_space_gets_404_not_403(
    api: httpx.AsyncClient, world: World
) -> None:
    for method, template, body in FOREIGN_REQUESTS:
        response = await _send(api, world.reader_a, method, template.format(s="beta"), body)
        assert_problem(response, 404, "not-found")


# Readers ----------------------------------------------------------------------------------


async def test_a_reader_reads_its_space(api: httpx.AsyncClient, world: World) -> None:
    headers = key_header(world.reader_a)
    threads = await api.get("/v1/spaces/alpha/threads", headers=headers)
    assert threads.status_code == 200
    assert [t["id"] for t in threads.json()["data"]] == ["t1"]
    thread = await api.get("/v1/spaces/alpha/threads/t1", headers=headers)
    assert thread.status_code == 200
    assert thread.json()["title"] == "original"
    state = await api.get("/v1/spaces/alpha/threads/t1/state", headers=headers)
    assert state.status_code == 200
    assert state.json()["state"] == {"v": 1}
    assert state.headers["etag"] == '"1"'
    history = await api.get("/v1/spaces/alpha/threads/t1/state/history", headers=headers)
    assert history.status_code == 200
    space = await api.get("/v1/spaces/alpha", headers=headers)
    assert space.status_code == 200
    assert space.json()["id"] == "alpha"
    legacy = await api.get("/threads/t1", headers=headers)
    assert legacy.status_code == 200
    assert legacy.json() == {"thread_id": "t1", "state": {"v": 1}}


READER_WRITES: list[tuple[str, str, Any]] = [
    ("POST", "/v1/spaces/alpha/threads", {"id": "by-reader"}),
    ("POST", "/v1/spaces/alpha/threads/messages", {"message": {"content": "by reader"}}),
    ("POST", "/v1/spaces/alpha/threads/t1/messages", {"content": "by reader"}),
    ("POST", "/v1/spaces/alpha/threads/t1/messages/batch", {"messages": [{"content": "x"}]}),
    ("PUT", "/v1/spaces/alpha/threads/t1/state", {"state": "by reader"}),
    ("PATCH", "/v1/spaces/alpha/threads/t1/state", {"by_reader": True}),
    ("PATCH", "/v1/spaces/alpha/threads/t1", {"title": "by reader"}),
    ("PATCH", "/v1/spaces/alpha/threads/t1", {"status": "archived"}),
    ("DELETE", "/v1/spaces/alpha/threads/t1", None),
    ("DELETE", "/v1/spaces/alpha/threads/t1?purge=true", None),
    ("POST", "/v1/spaces/alpha/threads/t1/restore", None),
    ("POST", "/threads/", {"thread_id": "by-reader", "state": 1}),
    ("PUT", "/threads/t1", {"state": "by reader"}),
]


@pytest.mark.parametrize(("method", "path", "body"), READER_WRITES)
async def test_a_reader_may_not_write(
    api: httpx.AsyncClient, world: World, method: str, path: str, body: Any
) -> None:
    before = await thread_snapshot(api, world.writer_a, "alpha")
    response = await _send(api, world.reader_a, method, path, body)
    problem = assert_problem(response, 403, "forbidden")
    assert "read-only" in problem["detail"]
    assert await thread_snapshot(api, world.writer_a, "alpha") == before


async def test_a_reader_never_sees_private_messages(api: httpx.AsyncClient, world: World) -> None:
    path = "/v1/spaces/alpha/threads/t1/messages"
    reader = key_header(world.reader_a)
    for params in ({}, {"order": "desc"}, {"role": "assistant"}, {"include_private": "false"}):
        page = await api.get(path, params=params, headers=reader)
        assert page.status_code == 200, page.text
        contents = [m["content"] for m in page.json()["data"]]
        assert "secret note" not in contents
        assert "secret note" not in page.text
    assert [m["content"] for m in (await api.get(path, headers=reader)).json()["data"]] == ["hello"]
    refused = await api.get(path, params={"include_private": "true"}, headers=reader)
    problem = assert_problem(refused, 403, "forbidden")
    assert "secret note" not in refused.text
    assert "private" in problem["detail"]

    writer = key_header(world.writer_a)
    default = await api.get(path, headers=writer)
    assert [m["content"] for m in default.json()["data"]] == ["hello"]
    for key in (world.writer_a, world.admin):
        full = await api.get(path, params={"include_private": "true"}, headers=key_header(key))
        assert full.status_code == 200
        messages = full.json()["data"]
        assert [(m["content"], m["private"]) for m in messages] == [
            ("hello", False),
            ("secret note", True),
        ]


# Admin-only routes ------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["writer_a", "reader_a"])
async def test_scoped_keys_may_not_manage_spaces_or_keys(
    api: httpx.AsyncClient, world: World, who: str
) -> None:
    headers = key_header(getattr(world, who))
    admin = key_header(world.admin)
    spaces_before = (await api.get("/v1/spaces", headers=admin)).json()
    keys_before = (await api.get("/v1/keys", headers=admin)).json()
    refused = [
        await api.post("/v1/spaces", json={"id": "gamma"}, headers=headers),
        await api.post("/v1/spaces", json={}, headers=headers),
        await api.patch("/v1/spaces/alpha", json={"name": "Renamed"}, headers=headers),
        await api.delete("/v1/spaces/alpha", headers=headers),
        await api.delete("/v1/spaces/alpha?force=true", headers=headers),
        await api.post("/v1/keys", json={"role": "admin"}, headers=headers),
        await api.post("/v1/keys", json={"role": "writer", "space_id": "alpha"}, headers=headers),
        await api.get("/v1/keys", headers=headers),
        await api.delete(f"/v1/keys/{world.writer_a_id}", headers=headers),
    ]
    for response in refused:
        assert_problem(response, 403, "forbidden")
    # Another space is still invisible rather than forbidden.
    assert_problem(
        await api.patch("/v1/spaces/beta", json={"name": "x"}, headers=headers), 404, "not-found"
    )
    assert_problem(await api.delete("/v1/spaces/beta", headers=headers), 404, "not-found")
    assert (await api.get("/v1/spaces", headers=admin)).json() == spaces_before
    assert (await api.get("/v1/keys", headers=admin)).json() == keys_before
    assert (await api.get("/v1/spaces/alpha/threads/t1", headers=headers)).status_code == 200


async def test_admin_manages_spaces(api: httpx.AsyncClient, world: World) -> None:
    admin = key_header(world.admin)
    created = await api.post("/v1/spaces", json={"id": "gamma", "name": "G"}, headers=admin)
    assert created.status_code == 201, created.text
    patched = await api.patch("/v1/spaces/gamma", json={"name": "Gamma"}, headers=admin)
    assert patched.json()["name"] == "Gamma"
    assert (await api.delete("/v1/spaces/gamma", headers=admin)).status_code == 204
    assert_problem(await api.get("/v1/spaces/gamma", headers=admin), 404, "not-found")


async def test_a_scoped_key_lists_only_its_space(api: httpx.AsyncClient, world: World) -> None:
    for key, space in (
        (world.writer_a, "alpha"),
        (world.reader_a, "alpha"),
        (world.writer_b, "beta"),
    ):
        page = await api.get("/v1/spaces", headers=key_header(key))
        assert page.status_code == 200
        assert [s["id"] for s in page.json()["data"]] == [space]
        assert page.json()["has_more"] is False
    everything = await api.get("/v1/spaces", headers=key_header(world.admin))
    assert {s["id"] for s in everything.json()["data"]} == {"alpha", "beta", "default"}


# The original API -------------------------------------------------------------------------


async def test_the_original_api_works_in_the_space_of_the_key(
    api: httpx.AsyncClient, world: World
) -> None:
    writer_a = key_header(world.writer_a)
    created = await api.post(
        "/threads/",
        json={"thread_id": "legacy-1", "state": {"step": 1}, "initial_message": "hi"},
        headers=writer_a,
    )
    assert created.status_code == 200, created.text
    assert created.json() == {"thread_id": "legacy-1", "state": {"step": 1}}

    thread = await api.get("/v1/spaces/alpha/threads/legacy-1", headers=writer_a)
    assert thread.status_code == 200
    assert thread.json()["space_id"] == "alpha"
    assert thread.json()["message_count"] == 1
    messages = await api.get("/v1/spaces/alpha/threads/legacy-1/messages", headers=writer_a)
    assert [(m["role"], m["content"]) for m in messages.json()["data"]] == [("user", "hi")]

    admin = key_header(world.admin)
    for space in ("default", "beta"):
        assert_problem(
            await api.get(f"/v1/spaces/{space}/threads/legacy-1", headers=admin), 404, "not-found"
        )
    # A key of beta reads beta through the original API: legacy-1 is not there.
    assert_problem(
        await api.get("/threads/legacy-1", headers=key_header(world.writer_b)), 404, "not-found"
    )
    assert_problem(
        await api.put("/threads/legacy-1", json={"state": 0}, headers=key_header(world.writer_b)),
        404,
        "not-found",
    )

    updated = await api.put("/threads/legacy-1", json={"state": {"step": 2}}, headers=writer_a)
    assert updated.status_code == 200
    assert updated.json() == {"thread_id": "legacy-1", "state": {"step": 2}}
    state = await api.get("/v1/spaces/alpha/threads/legacy-1/state", headers=writer_a)
    assert state.json()["state"] == {"step": 2}
    assert (await api.get("/threads/legacy-1", headers=key_header(world.reader_a))).json() == {
        "thread_id": "legacy-1",
        "state": {"step": 2},
    }

    # An admin key has no space: the original API uses ``default``.
    by_admin = await api.post("/threads/", json={"thread_id": "legacy-2"}, headers=admin)
    assert by_admin.status_code == 200
    assert (await api.get("/v1/spaces/default/threads/legacy-2", headers=admin)).is_success
    assert_problem(await api.get("/threads/legacy-2", headers=writer_a), 404, "not-found")


# Keys are stored as hashes ----------------------------------------------------------------


async def _stored_key_rows(settings: Settings) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(settings.database_url)
    try:
        return [dict(row) for row in await conn.fetch("SELECT * FROM api_keys")]
    finally:
        await conn.close()


def _text(reply: bytes | str) -> str:
    """A Redis reply as text: bytes, since this client does not decode responses."""
    assert isinstance(reply, bytes), reply
    return reply.decode()


async def _redis_key_rows_and_bytes(settings: Settings) -> tuple[list[dict[str, str]], bytes]:
    """The API key hashes (``P:key:K``) as rows, and every value stored under the test's
    prefix as bytes."""
    client = aioredis.Redis.from_url(settings.database_url)
    prefix = settings.redis_prefix
    rows: list[dict[str, str]] = []
    data = b""
    try:
        async for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            kind = _text(await client.type(key))
            values: list[Any]
            if kind == "string":
                values = [await client.get(key)]
            elif kind == "hash":
                fields = await client.hgetall(key)
                values = [*fields.keys(), *fields.values()]
                if key.decode().startswith(f"{prefix}:key:"):
                    rows.append({_text(k): _text(v) for k, v in fields.items()})
            elif kind == "set":
                values = list(await client.smembers(key))
            elif kind == "zset":
                values = list(await client.zrange(key, 0, -1))
            else:  # the store writes no lists or streams (see threadloom.store.redis.keys)
                raise AssertionError(f"unexpected Redis type {kind} of {key!r}")
            data += key + b"\n" + b"\n".join(values) + b"\n"
    finally:
        await client.aclose()
    return rows, data


def _sqlite_bytes(settings: Settings) -> bytes:
    path = Path(settings.database_url.removeprefix("sqlite:///"))
    data = b""
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-journal")):
        if candidate.exists():
            data += candidate.read_bytes()
    return data


async def test_only_the_hash_of_a_key_is_stored(
    app: FastAPI, api: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    created = await api.post(
        "/v1/keys",
        json={"role": "reader", "space_id": "beta"},
        headers=key_header(world.admin),
    )
    assert created.status_code == 201
    secrets = [world.admin, world.writer_a, world.reader_a, world.writer_b, created.json()["key"]]

    rows = await services_of(app).store.list_api_keys()
    assert len(rows) == len(secrets)
    dumped = repr(rows)
    for secret in secrets:
        assert secret not in dumped
        assert secret[10:] not in dumped  # not even the part past the shown prefix

    hashes = {hashlib.sha256(secret.encode()).hexdigest() for secret in secrets}
    backend = backend_of(settings.database_url)
    if backend == "sqlite":
        raw = _sqlite_bytes(settings)
        for secret in secrets:
            assert secret.encode() not in raw
            assert secret[10:].encode() not in raw
            # The hash is there, so the bytes read are the ones that hold the keys.
            assert hashlib.sha256(secret.encode()).hexdigest().encode() in raw
    elif backend == "redis":
        stored_rows, raw = await _redis_key_rows_and_bytes(settings)
        assert len(stored_rows) == len(secrets)
        for secret in secrets:
            assert secret.encode() not in raw
            assert secret[10:].encode() not in raw
        assert {row["key_hash"] for row in stored_rows} == hashes
    else:
        stored = await _stored_key_rows(settings)
        assert len(stored) == len(secrets)
        text = repr(stored)
        for secret in secrets:
            assert secret not in text
            assert secret[10:] not in text
        assert {row["key_hash"] for row in stored} == hashes
