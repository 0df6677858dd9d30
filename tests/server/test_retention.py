"""Retention over HTTP: a thread's time to live, the space's default, and purging an owner's
threads, on every database."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures.app import services_of
from threadloom.models import TTL_MAX_SECONDS
from threadloom.timestamps import format_ts, parse_ts, utc_now

pytestmark = pytest.mark.anyio

THREADS = "/v1/spaces/default/threads"
PROBLEMS = "https://threadloom.dev/problems/"


async def create(api: httpx.AsyncClient, url: str = THREADS, **body: Any) -> dict[str, Any]:
    response = await api.post(url, json=body)
    assert response.status_code == 201, response.text
    thread: dict[str, Any] = response.json()
    return thread


def lifetime(thread: dict[str, Any]) -> timedelta:
    return parse_ts(thread["expires_at"]) - parse_ts(thread["created_at"])


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEMS + slug
    return body


class TestThreadTTL:
    async def test_create_shows_expires_at(self, api: httpx.AsyncClient) -> None:
        thread = await create(api, id="t1", ttl_seconds=3600)
        assert lifetime(thread) == timedelta(seconds=3600)
        assert thread["expires_at"].endswith("Z")
        fetched = (await api.get(f"{THREADS}/t1")).json()
        assert fetched == thread
        listed = (await api.get(THREADS)).json()["data"]
        assert listed == [thread]

    async def test_without_ttl_it_never_expires(self, api: httpx.AsyncClient) -> None:
        thread = await create(api, id="t1")
        assert thread["expires_at"] is None

    async def test_create_with_message_takes_a_ttl(self, api: httpx.AsyncClient) -> None:
        response = await api.post(
            f"{THREADS}/messages",
            json={"thread": {"id": "t1", "ttl_seconds": 60}, "message": {"content": "hi"}},
        )
        assert response.status_code == 201, response.text
        assert lifetime(response.json()["thread"]) == timedelta(seconds=60)

    async def test_patch_sets_and_removes_the_expiry(self, api: httpx.AsyncClient) -> None:
        await create(api, id="t1", ttl_seconds=3600)
        before = utc_now()
        response = await api.patch(f"{THREADS}/t1", json={"ttl_seconds": 60})
        after = utc_now()
        assert response.status_code == 200, response.text
        expires_at = parse_ts(response.json()["expires_at"])
        assert before + timedelta(seconds=60) <= expires_at <= after + timedelta(seconds=60)

        # Other changes leave it alone.
        titled = await api.patch(f"{THREADS}/t1", json={"title": "x"})
        assert titled.json()["expires_at"] == response.json()["expires_at"]

        removed = await api.patch(f"{THREADS}/t1", json={"ttl_seconds": None})
        assert removed.status_code == 200, removed.text
        assert removed.json()["expires_at"] is None
        assert (await api.get(f"{THREADS}/t1")).json()["expires_at"] is None

    async def test_appending_does_not_extend_it(self, api: httpx.AsyncClient) -> None:
        thread = await create(api, id="t1", ttl_seconds=3600)
        appended = await api.post(f"{THREADS}/t1/messages", json={"content": "hi"})
        assert appended.status_code == 201, appended.text
        assert (await api.get(f"{THREADS}/t1")).json()["expires_at"] == thread["expires_at"]

    async def test_an_expired_thread_answers_404(self, api: httpx.AsyncClient) -> None:
        await create(api, id="t1", ttl_seconds=1, state={"v": 1})
        deadline = time.monotonic() + 15
        while (await api.get(f"{THREADS}/t1")).status_code == 200:
            assert time.monotonic() < deadline, "the thread never expired"
            await anyio.sleep(0.05)
        for method, path, body in (
            ("GET", "", None),
            ("PATCH", "", {"title": "late"}),
            ("GET", "/messages", None),
            ("POST", "/messages", {"content": "late"}),
            ("GET", "/state", None),
            ("PUT", "/state", {"state": {"v": 2}}),
        ):
            response = await api.request(method, f"{THREADS}/t1{path}", json=body)
            assert_problem(response, 404, "not-found")
        assert (await api.get(THREADS, params={"status": "all"})).json()["data"] == []
        # Its id is free again.
        assert (await create(api, id="t1"))["expires_at"] is None

    @pytest.mark.parametrize("ttl", [0, -1, TTL_MAX_SECONDS + 1, "60", 1.5, True], ids=repr)
    async def test_invalid_ttl_is_422(self, api: httpx.AsyncClient, ttl: Any) -> None:
        body = assert_problem(
            await api.post(THREADS, json={"id": "t1", "ttl_seconds": ttl}),
            422,
            "validation-error",
        )
        assert body["errors"][0]["loc"][-1] == "ttl_seconds"
        await create(api, id="t2")
        assert_problem(
            await api.patch(f"{THREADS}/t2", json={"ttl_seconds": ttl}), 422, "validation-error"
        )
        assert (await api.get(f"{THREADS}/t1")).status_code == 404

    async def test_the_longest_ttl_is_accepted(self, api: httpx.AsyncClient) -> None:
        thread = await create(api, id="t1", ttl_seconds=TTL_MAX_SECONDS)
        assert lifetime(thread) == timedelta(seconds=TTL_MAX_SECONDS)


class TestThreadExpiresAt:
    async def test_create_keeps_the_instant_given(self, api: httpx.AsyncClient) -> None:
        at = (utc_now() + timedelta(days=3)).replace(microsecond=654321)
        thread = await create(api, id="t1", expires_at=at.isoformat())
        assert thread["expires_at"] == format_ts(at)
        assert (await api.get(f"{THREADS}/t1")).json() == thread
        response = await api.post(
            f"{THREADS}/messages",
            json={"thread": {"id": "t2", "expires_at": thread["expires_at"]}, "message": {}},
        )
        assert response.status_code == 201, response.text
        assert response.json()["thread"]["expires_at"] == thread["expires_at"]

    @pytest.mark.parametrize(
        ("expires_at", "why"),
        [
            (-60, "past"),
            (TTL_MAX_SECONDS + 3600, "too far"),
            ("2030-01-01T00:00:00", "no offset"),
            ("soon", "not a time"),
        ],
        ids=lambda value: str(value),
    )
    async def test_an_invalid_instant_is_422(
        self, api: httpx.AsyncClient, expires_at: Any, why: str
    ) -> None:
        if isinstance(expires_at, int):
            expires_at = format_ts(utc_now() + timedelta(seconds=expires_at))
        for url, body, loc in (
            (THREADS, {"id": "t1", "expires_at": expires_at}, ["body", "expires_at"]),
            (
                f"{THREADS}/messages",
                {"thread": {"id": "t1", "expires_at": expires_at}, "message": {}},
                ["body", "thread", "expires_at"],
            ),
        ):
            problem = assert_problem(await api.post(url, json=body), 422, "validation-error")
            assert problem["errors"][0]["loc"] == loc, why
        assert (await api.get(f"{THREADS}/t1")).status_code == 404

    async def test_not_with_ttl_seconds(self, api: httpx.AsyncClient) -> None:
        at = format_ts(utc_now() + timedelta(hours=1))
        response = await api.post(THREADS, json={"id": "t1", "expires_at": at, "ttl_seconds": 60})
        problem = assert_problem(response, 422, "validation-error")
        assert "not both" in problem["errors"][0]["msg"]
        assert (await api.get(f"{THREADS}/t1")).status_code == 404


class TestSpaceDefaultTTL:
    async def test_new_threads_take_the_space_default(self, api: httpx.AsyncClient) -> None:
        space = await api.post("/v1/spaces", json={"id": "s1", "default_thread_ttl_seconds": 3600})
        assert space.status_code == 201, space.text
        assert space.json()["default_thread_ttl_seconds"] == 3600
        assert (await api.get("/v1/spaces/s1")).json() == space.json()
        threads = "/v1/spaces/s1/threads"

        assert lifetime(await create(api, threads, id="t1")) == timedelta(seconds=3600)
        # An explicit null is the same as leaving it out: the space's default.
        assert lifetime(await create(api, threads, id="t2", ttl_seconds=None)) == timedelta(
            seconds=3600
        )
        assert lifetime(await create(api, threads, id="t3", ttl_seconds=5)) == timedelta(seconds=5)
        # A thread may still be kept for good.
        kept = await api.patch(f"{threads}/t1", json={"ttl_seconds": None})
        assert kept.json()["expires_at"] is None

        changed = await api.patch("/v1/spaces/s1", json={"default_thread_ttl_seconds": 60})
        assert changed.status_code == 200, changed.text
        assert changed.json()["default_thread_ttl_seconds"] == 60
        assert lifetime(await create(api, threads, id="t4")) == timedelta(seconds=60)
        renamed = await api.patch("/v1/spaces/s1", json={"name": "One"})
        assert renamed.json()["default_thread_ttl_seconds"] == 60

        removed = await api.patch("/v1/spaces/s1", json={"default_thread_ttl_seconds": None})
        assert removed.json()["default_thread_ttl_seconds"] is None
        assert (await create(api, threads, id="t5"))["expires_at"] is None
        # Threads that exist keep theirs.
        assert lifetime((await api.get(f"{threads}/t3")).json()) == timedelta(seconds=5)

    async def test_spaces_show_no_default_unless_set(self, api: httpx.AsyncClient) -> None:
        assert (await api.get("/v1/spaces/default")).json()["default_thread_ttl_seconds"] is None

    @pytest.mark.parametrize("ttl", [0, TTL_MAX_SECONDS + 1, "60"], ids=repr)
    async def test_invalid_default_is_422(self, api: httpx.AsyncClient, ttl: Any) -> None:
        assert_problem(
            await api.post("/v1/spaces", json={"id": "s1", "default_thread_ttl_seconds": ttl}),
            422,
            "validation-error",
        )
        assert_problem(
            await api.patch("/v1/spaces/default", json={"default_thread_ttl_seconds": ttl}),
            422,
            "validation-error",
        )


@pytest.fixture
async def keys(app: FastAPI) -> dict[str, str]:
    """Spaces ``alpha`` and ``beta`` and keys: admin, writer and reader of alpha, writer of
    beta."""
    services = services_of(app)
    await services.store.create_space("alpha", "Alpha", {})
    await services.store.create_space("beta", "Beta", {})
    made = {
        "admin": await services.keys.create("admin", None),
        "writer": await services.keys.create("writer", "alpha"),
        "reader": await services.keys.create("reader", "alpha"),
        "beta": await services.keys.create("writer", "beta"),
    }
    return {name: key for name, (key, _row) in made.items()}


def purge(api: httpx.AsyncClient, space: str, key: str, owner: Any = "o1") -> Any:
    return api.post(
        f"/v1/spaces/{space}/purge", json={"owner_id": owner}, headers={"X-API-Key": key}
    )


async def seed(api: httpx.AsyncClient, key: str, space: str, *owners: str | None) -> None:
    for n, owner in enumerate(owners):
        response = await api.post(
            f"/v1/spaces/{space}/threads/messages",
            json={"thread": {"id": f"t{n}", "owner_id": owner}, "message": {"content": "hi"}},
            headers={"X-API-Key": key},
        )
        assert response.status_code == 201, response.text


async def thread_ids(api: httpx.AsyncClient, key: str, space: str) -> list[str]:
    response = await api.get(
        f"/v1/spaces/{space}/threads",
        params={"status": "all", "order_by": "created_at", "order": "asc"},
        headers={"X-API-Key": key},
    )
    assert response.status_code == 200, response.text
    return [thread["id"] for thread in response.json()["data"]]


class TestPurgeOwner:
    async def test_a_writer_purges_an_owners_threads(
        self, api: httpx.AsyncClient, keys: dict[str, str]
    ) -> None:
        await seed(api, keys["writer"], "alpha", "o1", "o2", "o1", None, "o1")
        await seed(api, keys["beta"], "beta", "o1")
        response = await purge(api, "alpha", keys["writer"])
        assert response.status_code == 200, response.text
        assert response.json() == {"object": "purge", "owner_id": "o1", "deleted": 3}
        assert await thread_ids(api, keys["writer"], "alpha") == ["t1", "t3"]
        gone = await api.get(
            "/v1/spaces/alpha/threads/t0/messages", headers={"X-API-Key": keys["writer"]}
        )
        assert_problem(gone, 404, "not-found")
        # Other spaces keep theirs; purging again finds nothing.
        assert await thread_ids(api, keys["beta"], "beta") == ["t0"]
        again = await purge(api, "alpha", keys["writer"])
        assert again.json()["deleted"] == 0

    async def test_an_admin_purges_any_space(
        self, api: httpx.AsyncClient, keys: dict[str, str]
    ) -> None:
        await seed(api, keys["beta"], "beta", "o1", "o1")
        response = await purge(api, "beta", keys["admin"])
        assert response.json()["deleted"] == 2
        assert await thread_ids(api, keys["beta"], "beta") == []

    async def test_a_reader_is_refused(self, api: httpx.AsyncClient, keys: dict[str, str]) -> None:
        await seed(api, keys["writer"], "alpha", "o1")
        assert_problem(await purge(api, "alpha", keys["reader"]), 403, "forbidden")
        assert await thread_ids(api, keys["writer"], "alpha") == ["t0"]

    async def test_another_space_does_not_exist_for_the_key(
        self, api: httpx.AsyncClient, keys: dict[str, str]
    ) -> None:
        await seed(api, keys["beta"], "beta", "o1")
        assert_problem(await purge(api, "beta", keys["writer"]), 404, "not-found")
        assert await thread_ids(api, keys["beta"], "beta") == ["t0"]

    async def test_a_missing_space_is_404(
        self, api: httpx.AsyncClient, keys: dict[str, str]
    ) -> None:
        assert_problem(await purge(api, "nowhere", keys["admin"]), 404, "not-found")

    async def test_without_a_key_is_401(self, api: httpx.AsyncClient, keys: dict[str, str]) -> None:
        assert keys
        response = await api.post("/v1/spaces/alpha/purge", json={"owner_id": "o1"})
        assert_problem(response, 401, "unauthenticated")

    @pytest.mark.parametrize("body", [{}, {"owner_id": ""}, {"owner_id": None}, {"x": 1}])
    async def test_an_invalid_body_is_422(
        self, api: httpx.AsyncClient, keys: dict[str, str], body: dict[str, Any]
    ) -> None:
        response = await api.post(
            "/v1/spaces/alpha/purge", json=body, headers={"X-API-Key": keys["writer"]}
        )
        assert_problem(response, 422, "validation-error")

    async def test_the_space_hears_of_a_purge_once(
        self, app: FastAPI, api: httpx.AsyncClient, keys: dict[str, str]
    ) -> None:
        """One ``threads.purged`` event for the space, after the threads are gone, with how
        many went; none for a purge that found nothing, none in other spaces or threads."""
        await seed(api, keys["writer"], "alpha", "o1", "o2", "o1")
        await seed(api, keys["beta"], "beta", "o1")
        hub = services_of(app).events
        alpha, _, _ = hub.subscribe("alpha")
        beta, _, _ = hub.subscribe("beta")
        kept_thread, _, _ = hub.subscribe("alpha", "t1")
        purged_thread, _, _ = hub.subscribe("alpha", "t0")
        try:
            assert (await purge(api, "alpha", keys["writer"])).json()["deleted"] == 2
            assert (await purge(api, "alpha", keys["writer"])).json()["deleted"] == 0
            assert (await purge(api, "alpha", keys["writer"], owner="nobody")).status_code == 200
            event = await alpha.next(timeout=5)
            assert event is not None
            assert (event.type, event.space_id, event.thread_id) == (
                "threads.purged",
                "alpha",
                None,
            )
            assert event.data == {"owner_id": "o1", "count": 2}
            assert event.envelope() == {
                "type": "threads.purged",
                "thread_id": None,
                "data": {"owner_id": "o1", "count": 2},
            }
            assert await alpha.next(timeout=0.2) is None  # the empty purges said nothing
            for other in (beta, kept_thread, purged_thread):
                assert await other.next(timeout=0.1) is None
        finally:
            for subscription in (alpha, beta, kept_thread, purged_thread):
                subscription.close()
