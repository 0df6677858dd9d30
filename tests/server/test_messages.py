"""The message endpoints, grouped by operation, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures.app import services_of

pytestmark = pytest.mark.anyio

THREADS = "/v1/spaces/default/threads"
PNG = "data:image/png;base64,iVBORw0KGgo="


@pytest.fixture
async def thread_url(api: httpx.AsyncClient) -> str:
    response = await api.post(THREADS, json={"id": "t"})
    assert response.status_code == 201
    return f"{THREADS}/t"


async def append(api: httpx.AsyncClient, url: str, **body: Any) -> dict[str, Any]:
    response = await api.post(f"{url}/messages", json=body)
    assert response.status_code == 201, response.text
    message: dict[str, Any] = response.json()
    return message


async def read_all(api: httpx.AsyncClient, url: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    query: dict[str, Any] = {"limit": 100, **params}
    while True:
        page = (await api.get(f"{url}/messages", params=query)).json()
        items.extend(page["data"])
        if not page["has_more"]:
            return items
        query["after"] = page["last_id"]


class TestAppendMessage:
    async def test_every_field_round_trips(self, api: httpx.AsyncClient, thread_url: str) -> None:
        message = await append(
            api,
            thread_url,
            role="assistant",
            content="Hello",
            images=["https://example.test/cat.png", PNG],
            private=True,
            metadata={"tokens": 3, "tags": ["a"]},
        )
        assert message["id"].startswith("msg_")
        assert message["thread_id"] == "t"
        assert message["seq"] == 1
        page = (await api.get(f"{thread_url}/messages", params={"include_private": True})).json()
        assert page["data"] == [message]

    async def test_defaults(self, api: httpx.AsyncClient, thread_url: str) -> None:
        message = await append(api, thread_url, content="hi")
        assert message["role"] == "user"
        assert message["images"] == []
        assert message["private"] is False
        assert message["metadata"] == {}

    async def test_seq_counts_and_thread_updates(
        self, api: httpx.AsyncClient, thread_url: str
    ) -> None:
        before = (await api.get(thread_url)).json()
        seqs = [(await append(api, thread_url, content=str(i)))["seq"] for i in range(5)]
        assert seqs == [1, 2, 3, 4, 5]
        after = (await api.get(thread_url)).json()
        assert after["message_count"] == 5
        assert after["updated_at"] > before["updated_at"]

    async def test_concurrent_appends_are_gapless(
        self, api: httpx.AsyncClient, thread_url: str
    ) -> None:
        results = await asyncio.gather(
            *(api.post(f"{thread_url}/messages", json={"content": str(i)}) for i in range(50))
        )
        assert all(r.status_code == 201 for r in results)
        assert sorted(r.json()["seq"] for r in results) == list(range(1, 51))

    async def test_missing_thread_is_404(self, api: httpx.AsyncClient) -> None:
        response = await api.post(f"{THREADS}/nope/messages", json={"content": "x"})
        assert response.status_code == 404

    @pytest.mark.parametrize("image", ["ftp://x/y.png", "/tmp/a.png", "javascript:alert(1)"])
    async def test_image_must_be_a_url(
        self, api: httpx.AsyncClient, thread_url: str, image: str
    ) -> None:
        response = await api.post(f"{thread_url}/messages", json={"images": [image]})
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["body", "images"]

    async def test_empty_role_is_422(self, api: httpx.AsyncClient, thread_url: str) -> None:
        response = await api.post(f"{thread_url}/messages", json={"role": "", "content": "x"})
        assert response.status_code == 422


class TestAppendBatch:
    async def test_batch_is_ordered(self, api: httpx.AsyncClient, thread_url: str) -> None:
        await append(api, thread_url, content="first")
        body = {"messages": [{"content": f"m{i}", "role": "user"} for i in range(3)]}
        response = await api.post(f"{thread_url}/messages/batch", json=body)
        assert response.status_code == 201
        page = response.json()
        assert [m["seq"] for m in page["data"]] == [2, 3, 4]
        assert [m["content"] for m in page["data"]] == ["m0", "m1", "m2"]
        rest = await api.get(f"{thread_url}/messages", params={"after": page["last_id"]})
        assert rest.json()["data"] == []

    async def test_invalid_member_writes_nothing(
        self, api: httpx.AsyncClient, thread_url: str
    ) -> None:
        body = {"messages": [{"content": "ok"}, {"content": 5}]}
        response = await api.post(f"{thread_url}/messages/batch", json=body)
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"][:3] == ["body", "messages", 1]
        assert (await api.get(thread_url)).json()["message_count"] == 0

    async def test_more_than_100_is_rejected(self, api: httpx.AsyncClient, thread_url: str) -> None:
        body = {"messages": [{"content": "x"}] * 101}
        response = await api.post(f"{thread_url}/messages/batch", json=body)
        assert response.status_code == 413
        assert (await api.get(thread_url)).json()["message_count"] == 0

    async def test_empty_batch_is_422(self, api: httpx.AsyncClient, thread_url: str) -> None:
        response = await api.post(f"{thread_url}/messages/batch", json={"messages": []})
        assert response.status_code == 422


class TestCreateThreadWithMessage:
    async def test_atomic_create(self, api: httpx.AsyncClient) -> None:
        body = {"thread": {"id": "fresh", "title": "t"}, "message": {"content": "hello"}}
        response = await api.post(f"{THREADS}/messages", json=body)
        assert response.status_code == 201
        created = response.json()
        assert created["thread"]["message_count"] == 1
        assert created["message"]["seq"] == 1
        assert created["message"]["thread_id"] == "fresh"
        stored = (await api.get(f"{THREADS}/fresh")).json()
        assert stored["message_count"] == 1

    async def test_thread_defaults_when_omitted(self, api: httpx.AsyncClient) -> None:
        response = await api.post(f"{THREADS}/messages", json={"message": {"content": "x"}})
        assert response.status_code == 201
        assert response.json()["thread"]["id"].startswith("thr_")

    async def test_conflict_writes_nothing(self, api: httpx.AsyncClient) -> None:
        await api.post(THREADS, json={"id": "taken"})
        body = {"thread": {"id": "taken"}, "message": {"content": "x"}}
        assert (await api.post(f"{THREADS}/messages", json=body)).status_code == 409
        assert (await api.get(f"{THREADS}/taken")).json()["message_count"] == 0

    async def test_the_designs_flat_body_with_a_key_and_an_idempotency_key(
        self, api: httpx.AsyncClient, app: FastAPI
    ) -> None:
        secret, _ = await services_of(app).keys.create("writer", "default")
        headers = {"X-API-Key": secret, "Idempotency-Key": "unique_key"}
        body = {"content": "Starting a new conversation."}
        first = await api.post(f"{THREADS}/messages", json=body, headers=headers)
        assert first.status_code == 201, first.text
        created = first.json()
        assert set(created) == {"thread", "message"}
        thread_id = created["thread"]["id"]
        assert thread_id.startswith("thr_")
        assert created["message"]["thread_id"] == thread_id
        assert created["message"]["role"] == "user"
        assert created["message"]["content"] == "Starting a new conversation."
        again = await api.post(f"{THREADS}/messages", json=body, headers=headers)
        assert again.status_code == 201
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == created
        page = await api.get(THREADS, params={"status": "all"}, headers=headers)
        assert [thread["id"] for thread in page.json()["data"]] == [thread_id]
        messages = await api.get(f"{THREADS}/{thread_id}/messages", headers=headers)
        assert [m["content"] for m in messages.json()["data"]] == [body["content"]]

    async def test_flat_and_nested_bodies_make_the_same_thread(
        self, api: httpx.AsyncClient
    ) -> None:
        thread = {"title": "t", "metadata": {"k": 1}}
        message = {"role": "assistant", "content": "hi", "private": True, "metadata": {"m": 2}}
        flat = {"thread": {"id": "flat", **thread}, "id": "m1", "images": [PNG], **message}
        nested = {
            "thread": {"id": "nested", **thread},
            "message": {"id": "m1", **message, "images": [PNG]},
        }
        answers = []
        for body in (flat, nested):
            response = await api.post(f"{THREADS}/messages", json=body)
            assert response.status_code == 201, response.text
            answers.append(response.json())
        volatile = {"id", "thread_id", "created_at", "updated_at"}
        for part in ("thread", "message"):
            one, other = (
                {k: v for k, v in answer[part].items() if k not in volatile} for answer in answers
            )
            assert one == other
        assert answers[0]["message"]["id"] == "m1"
        assert answers[0]["message"]["images"] == [PNG]
        assert answers[0]["thread"]["id"] == "flat"

    async def test_the_default_role_is_the_same_in_both_forms(self, api: httpx.AsyncClient) -> None:
        flat = await api.post(f"{THREADS}/messages", json={"content": "a"})
        nested = await api.post(f"{THREADS}/messages", json={"message": {"content": "a"}})
        assert flat.json()["message"]["role"] == nested.json()["message"]["role"] == "user"

    @pytest.mark.parametrize(
        "body",
        [
            {"message": {"content": "a"}, "content": "b"},
            {"thread": {"id": "mixed"}, "message": {}, "role": "assistant"},
            {"message": {"content": "a"}, "images": [PNG], "metadata": {}},
        ],
    )
    async def test_a_body_in_both_forms_is_422_and_writes_nothing(
        self, api: httpx.AsyncClient, body: dict[str, Any]
    ) -> None:
        response = await api.post(f"{THREADS}/messages", json=body)
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        [error] = response.json()["errors"]
        assert error["type"] == "ambiguous_message"
        assert error["loc"] == ["body"]
        assert "under 'message' or as top-level fields" in error["msg"]
        assert "'message' and" in error["msg"]
        listed = await api.get(THREADS, params={"status": "all"})
        assert listed.json()["data"] == []

    async def test_one_idempotency_key_for_a_flat_then_a_nested_body_is_refused(
        self, api: httpx.AsyncClient
    ) -> None:
        headers = {"Idempotency-Key": "k-forms"}
        flat = {"thread": {"id": "one"}, "content": "x"}
        nested = {"thread": {"id": "one"}, "message": {"content": "x"}}
        first = await api.post(f"{THREADS}/messages", json=flat, headers=headers)
        assert first.status_code == 201
        other = await api.post(f"{THREADS}/messages", json=nested, headers=headers)
        assert other.status_code == 422
        assert other.json()["type"].endswith("/idempotency-key-reused")

    async def test_a_body_that_is_not_an_object_is_422(self, api: httpx.AsyncClient) -> None:
        response = await api.post(f"{THREADS}/messages", json=["content"])
        assert response.status_code == 422
        assert [e["type"] for e in response.json()["errors"]] == ["not_an_object"]

    async def test_openapi_shows_both_forms(self, api: httpx.AsyncClient) -> None:
        spec = (await api.get("/openapi.json")).json()
        operation = spec["paths"]["/v1/spaces/{space_id}/threads/messages"]["post"]
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        body = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
        forms = [form["$ref"].rsplit("/", 1)[1] for form in body["oneOf"]]
        assert forms == ["ThreadWithMessageCreate", "ThreadWithFlatMessageCreate"]
        assert {"content": "Starting a new conversation."} in body["examples"]
        assert any("message" in example for example in body["examples"])
        flat = spec["components"]["schemas"]["ThreadWithFlatMessageCreate"]
        assert flat["required"] == ["content"]
        assert {
            "content",
            "role",
            "images",
            "private",
            "metadata",
            "id",
            "tool_calls",
            "tool_call_id",
            "name",
            "item",
            "thread",
        } == set(flat["properties"])
        assert spec["components"]["schemas"]["ThreadWithMessageCreate"]["required"] == ["message"]


class TestListMessages:
    async def test_orders_and_tail(self, api: httpx.AsyncClient, thread_url: str) -> None:
        for i in range(1, 8):
            await append(api, thread_url, content=f"m{i}")
        asc = (await api.get(f"{thread_url}/messages", params={"limit": 3})).json()
        assert [m["seq"] for m in asc["data"]] == [1, 2, 3]
        assert asc["has_more"] is True
        tail = await api.get(f"{thread_url}/messages", params={"limit": 3, "order": "desc"})
        assert [m["seq"] for m in tail.json()["data"]] == [7, 6, 5]
        older = await api.get(
            f"{thread_url}/messages",
            params={"limit": 3, "order": "desc", "after": tail.json()["last_id"]},
        )
        assert [m["seq"] for m in older.json()["data"]] == [4, 3, 2]
        newer = await api.get(
            f"{thread_url}/messages",
            params={"limit": 3, "order": "desc", "before": older.json()["first_id"]},
        )
        assert [m["seq"] for m in newer.json()["data"]] == [7, 6, 5]
        assert newer.json()["has_more"] is False

    async def test_private_and_role_filters(self, api: httpx.AsyncClient, thread_url: str) -> None:
        await append(api, thread_url, content="a", role="user")
        await append(api, thread_url, content="b", role="assistant", private=True)
        await append(api, thread_url, content="c", role="assistant")
        default = await read_all(api, thread_url)
        assert [m["content"] for m in default] == ["a", "c"]
        everything = await read_all(api, thread_url, include_private=True)
        assert [m["content"] for m in everything] == ["a", "b", "c"]
        assistant = await read_all(api, thread_url, role="assistant", include_private=True)
        assert [m["content"] for m in assistant] == ["b", "c"]

    @pytest.mark.parametrize("order", ["asc", "desc"])
    async def test_paging_while_appending(
        self, api: httpx.AsyncClient, thread_url: str, order: str
    ) -> None:
        batch = {"messages": [{"content": f"m{i}"} for i in range(60)]}
        await api.post(f"{thread_url}/messages/batch", json=batch)
        stop = asyncio.Event()

        async def writer() -> None:
            while not stop.is_set():
                await append(api, thread_url, content="late")
                await asyncio.sleep(0)

        task = asyncio.create_task(writer())
        seqs: list[int] = []
        query: dict[str, Any] = {"limit": 7, "order": order}
        try:
            while len(seqs) < 60:
                page = (await api.get(f"{thread_url}/messages", params=query)).json()
                seqs.extend(m["seq"] for m in page["data"])
                if not page["has_more"]:
                    break
                query["after"] = page["last_id"]
        finally:
            stop.set()
            await task
        assert len(seqs) == len(set(seqs))
        step = 1 if order == "asc" else -1
        assert all(b - a == step for a, b in zip(seqs, seqs[1:], strict=False))
        if order == "asc":
            assert seqs[:60] == list(range(1, 61))

    async def test_missing_thread_is_404(self, api: httpx.AsyncClient) -> None:
        assert (await api.get(f"{THREADS}/nope/messages")).status_code == 404

    async def test_cursor_of_another_kind_is_422(
        self, api: httpx.AsyncClient, thread_url: str
    ) -> None:
        threads_page = (await api.get(THREADS)).json()
        response = await api.get(
            f"{thread_url}/messages", params={"after": threads_page["last_id"]}
        )
        assert response.status_code == 422
