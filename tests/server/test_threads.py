"""The thread endpoints, grouped by operation, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.anyio

THREADS = "/v1/spaces/default/threads"


async def create(api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await api.post(THREADS, json=body)
    assert response.status_code == 201, response.text
    thread: dict[str, Any] = response.json()
    return thread


class TestCreateThread:
    async def test_generated_id_and_defaults(self, api: httpx.AsyncClient) -> None:
        thread = await create(api)
        assert thread["id"].startswith("thr_")
        assert thread["space_id"] == "default"
        assert thread["status"] == "active"
        assert thread["state"] is None
        assert thread["state_version"] == 0
        assert thread["message_count"] == 0
        assert thread["metadata"] == {}
        assert thread["role_mapping"] == {}
        assert thread["archived_at"] is None
        assert thread["created_at"].endswith("Z")
        assert thread["created_at"] == thread["updated_at"]

    async def test_client_chosen_id_and_every_field(self, api: httpx.AsyncClient) -> None:
        thread = await create(
            api,
            id="support:c-42.v1_a",
            title="Support",
            owner_id="u1",
            public=True,
            metadata={"customer": "c-42", "tier": 2},
            state={"step": "greeting"},
            role_mapping={"assistant": {"name": "Ada", "icon": "https://x.test/a.png"}},
        )
        assert thread["id"] == "support:c-42.v1_a"
        assert thread["public"] is True
        assert thread["state"] == {"step": "greeting"}
        assert thread["state_version"] == 1
        assert thread["role_mapping"]["assistant"]["name"] == "Ada"
        fetched = (await api.get(f"{THREADS}/support:c-42.v1_a")).json()
        assert fetched == thread

    async def test_duplicate_id_is_409(self, api: httpx.AsyncClient) -> None:
        await create(api, id="same")
        response = await api.post(THREADS, json={"id": "same"})
        assert response.status_code == 409
        assert response.json()["type"].endswith("/already-exists")

    @pytest.mark.parametrize("bad_id", ["has space", "x" * 129, "", "slash/no", "é"])
    async def test_invalid_id_is_422(self, api: httpx.AsyncClient, bad_id: str) -> None:
        response = await api.post(THREADS, json={"id": bad_id})
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"

    async def test_same_id_in_two_spaces(self, api: httpx.AsyncClient) -> None:
        assert (await api.post("/v1/spaces", json={"id": "other"})).status_code == 201
        await create(api, id="shared")
        response = await api.post("/v1/spaces/other/threads", json={"id": "shared"})
        assert response.status_code == 201
        assert response.json()["space_id"] == "other"

    async def test_missing_space_is_404(self, api: httpx.AsyncClient) -> None:
        response = await api.post("/v1/spaces/nowhere/threads", json={})
        assert response.status_code == 404


class TestGetThread:
    async def test_missing_is_404_problem(self, api: httpx.AsyncClient) -> None:
        response = await api.get(f"{THREADS}/missing")
        assert response.status_code == 404
        problem = response.json()
        assert problem["instance"] == f"{THREADS}/missing"
        assert "missing" in problem["detail"]


class TestUpdateThread:
    async def test_metadata_merges_key_by_key_and_null_deletes(
        self, api: httpx.AsyncClient
    ) -> None:
        thread = await create(api, metadata={"a": 1, "b": 2})
        response = await api.patch(
            f"{THREADS}/{thread['id']}", json={"metadata": {"b": None, "c": {"d": 1}}}
        )
        assert response.status_code == 200
        assert response.json()["metadata"] == {"a": 1, "c": {"d": 1}}
        assert response.json()["updated_at"] > thread["updated_at"]

    async def test_title_public_owner(self, api: httpx.AsyncClient) -> None:
        thread = await create(api, title="old")
        body = {"title": "new", "public": True, "owner_id": "u9"}
        updated = (await api.patch(f"{THREADS}/{thread['id']}", json=body)).json()
        assert (updated["title"], updated["public"], updated["owner_id"]) == ("new", True, "u9")
        cleared = (await api.patch(f"{THREADS}/{thread['id']}", json={"title": None})).json()
        assert cleared["title"] is None
        assert cleared["owner_id"] == "u9"

    async def test_role_mapping_merge_and_remove(self, api: httpx.AsyncClient) -> None:
        thread = await create(api, role_mapping={"user": {"name": "Bob"}})
        url = f"{THREADS}/{thread['id']}"
        added = await api.patch(url, json={"role_mapping": {"assistant": {"name": "Ada"}}})
        assert set(added.json()["role_mapping"]) == {"user", "assistant"}
        removed = await api.patch(url, json={"role_mapping": {"user": None}})
        assert set(removed.json()["role_mapping"]) == {"assistant"}

    async def test_status_archives(self, api: httpx.AsyncClient) -> None:
        thread = await create(api)
        archived = await api.patch(f"{THREADS}/{thread['id']}", json={"status": "archived"})
        assert archived.json()["status"] == "archived"
        assert archived.json()["archived_at"] is not None

    async def test_bad_status_is_422(self, api: httpx.AsyncClient) -> None:
        thread = await create(api)
        response = await api.patch(f"{THREADS}/{thread['id']}", json={"status": "gone"})
        assert response.status_code == 422

    async def test_missing_is_404(self, api: httpx.AsyncClient) -> None:
        assert (await api.patch(f"{THREADS}/nope", json={"title": "x"})).status_code == 404


class TestArchiveRestorePurge:
    async def test_archive_then_restore(self, api: httpx.AsyncClient) -> None:
        thread = await create(api)
        url = f"{THREADS}/{thread['id']}"
        archived = await api.delete(url)
        assert archived.status_code == 200
        assert archived.json()["status"] == "archived"
        listed = (await api.get(THREADS)).json()["data"]
        assert thread["id"] not in [t["id"] for t in listed]
        blocked = await api.post(f"{url}/messages", json={"content": "x"})
        assert blocked.status_code == 409
        assert blocked.json()["type"].endswith("/thread-archived")
        restored = await api.post(f"{url}/restore")
        assert restored.json()["status"] == "active"
        assert restored.json()["archived_at"] is None
        assert (await api.post(f"{url}/messages", json={"content": "x"})).status_code == 201

    async def test_purge_removes_thread_and_messages(self, api: httpx.AsyncClient) -> None:
        thread = await create(api)
        url = f"{THREADS}/{thread['id']}"
        await api.post(f"{url}/messages", json={"content": "x"})
        response = await api.delete(url, params={"purge": "true"})
        assert response.status_code == 204
        assert (await api.get(url)).status_code == 404
        assert (await api.get(f"{url}/messages")).status_code == 404
        again = await create(api, id=thread["id"])
        assert again["message_count"] == 0
        assert (await api.get(f"{url}/messages")).json()["data"] == []

    async def test_purge_missing_is_404(self, api: httpx.AsyncClient) -> None:
        response = await api.delete(f"{THREADS}/nope", params={"purge": "true"})
        assert response.status_code == 404


class TestListThreads:
    async def test_filters(self, api: httpx.AsyncClient) -> None:
        await create(api, id="a", title="Billing question", owner_id="u1", metadata={"k": "v"})
        await create(api, id="b", title="billing 100%", owner_id="u2", metadata={"n": 5})
        await create(api, id="c", title="Other_thing", owner_id="u1", metadata={"flag": True})
        await api.delete(f"{THREADS}/c")

        async def ids(**params: Any) -> list[str]:
            response = await api.get(THREADS, params=params)
            assert response.status_code == 200, response.text
            return sorted(t["id"] for t in response.json()["data"])

        assert await ids() == ["a", "b"]
        assert await ids(status="archived") == ["c"]
        assert await ids(status="all") == ["a", "b", "c"]
        assert await ids(owner_id="u1") == ["a"]
        assert await ids(owner_id="u1", status="all") == ["a", "c"]
        assert await ids(**{"metadata[k]": "v"}) == ["a"]
        assert await ids(**{"metadata[n]": "5"}) == ["b"]
        assert await ids(**{"metadata[flag]": "true", "status": "all"}) == ["c"]
        assert await ids(**{"metadata[k]": "v", "metadata[n]": "5"}) == []
        assert await ids(q="BILLING") == ["a", "b"]
        assert await ids(q="100%") == ["b"]
        assert await ids(q="%") == ["b"]
        assert await ids(q="r_t", status="all") == ["c"]
        assert await ids(q="_") == []

    async def test_orders(self, api: httpx.AsyncClient) -> None:
        for name in ("first", "second", "third"):
            await create(api, id=name)
        await api.post(f"{THREADS}/first/messages", json={"content": "bump"})

        async def ids(**params: Any) -> list[str]:
            return [t["id"] for t in (await api.get(THREADS, params=params)).json()["data"]]

        assert await ids() == ["first", "third", "second"]
        assert await ids(order="asc") == ["second", "third", "first"]
        assert await ids(order_by="created_at") == ["third", "second", "first"]
        assert await ids(order_by="created_at", order="asc") == ["first", "second", "third"]

    async def test_bad_cursor_is_422(self, api: httpx.AsyncClient) -> None:
        response = await api.get(THREADS, params={"after": "not-a-cursor"})
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["query", "after"]

    async def test_limit_bounds(self, api: httpx.AsyncClient) -> None:
        assert (await api.get(THREADS, params={"limit": 0})).status_code == 422
        assert (await api.get(THREADS, params={"limit": 101})).status_code == 422

    @pytest.mark.parametrize("order", ["asc", "desc"])
    async def test_paging_while_threads_are_created(
        self, api: httpx.AsyncClient, order: str
    ) -> None:
        existing = [(await create(api, id=f"t{i:02d}"))["id"] for i in range(25)]
        seen: list[str] = []
        params: dict[str, Any] = {"order_by": "created_at", "order": order, "limit": 7}
        stop = asyncio.Event()

        async def writer() -> None:
            n = 0
            while not stop.is_set():
                await create(api, id=f"new{n:03d}")
                n += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(writer())
        try:
            while True:
                page = (await api.get(THREADS, params=params)).json()
                seen.extend(t["id"] for t in page["data"])
                if not page["has_more"]:
                    break
                params["after"] = page["last_id"]
                if order == "desc" and len(seen) >= len(existing):
                    break
        finally:
            stop.set()
            await task
        assert len(seen) == len(set(seen)), "a thread was repeated"
        old = [i for i in seen if i.startswith("t")]
        expected = existing if order == "asc" else existing[::-1]
        assert old == expected, "a thread was skipped or reordered"

    async def test_paging_backwards_with_before(self, api: httpx.AsyncClient) -> None:
        for i in range(10):
            await create(api, id=f"t{i}")
        params: dict[str, Any] = {"order_by": "created_at", "order": "asc", "limit": 4}
        pages = []
        page = (await api.get(THREADS, params=params)).json()
        pages.append([t["id"] for t in page["data"]])
        while page["has_more"]:
            page = (await api.get(THREADS, params={**params, "after": page["last_id"]})).json()
            pages.append([t["id"] for t in page["data"]])
        assert pages == [["t0", "t1", "t2", "t3"], ["t4", "t5", "t6", "t7"], ["t8", "t9"]]
        back = (await api.get(THREADS, params={**params, "before": page["first_id"]})).json()
        assert [t["id"] for t in back["data"]] == ["t4", "t5", "t6", "t7"]
        assert back["has_more"] is True
        first = (await api.get(THREADS, params={**params, "before": back["first_id"]})).json()
        assert [t["id"] for t in first["data"]] == ["t0", "t1", "t2", "t3"]
        assert first["has_more"] is False
