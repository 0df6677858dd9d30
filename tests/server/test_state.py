"""Thread state: ETag/If-Match, merge patch, history, on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.anyio

THREAD = "/v1/spaces/default/threads/t"
STATE = f"{THREAD}/state"
MERGE = {"content-type": "application/merge-patch+json"}


@pytest.fixture(autouse=True)
async def thread(api: httpx.AsyncClient) -> None:
    response = await api.post("/v1/spaces/default/threads", json={"id": "t"})
    assert response.status_code == 201


class TestGetState:
    async def test_fresh_thread_has_null_state_version_0(self, api: httpx.AsyncClient) -> None:
        response = await api.get(STATE)
        assert response.status_code == 200
        assert response.headers["etag"] == '"0"'
        body = response.json()
        assert (body["state"], body["version"], body["thread_id"]) == (None, 0, "t")

    async def test_missing_thread_is_404(self, api: httpx.AsyncClient) -> None:
        response = await api.get("/v1/spaces/default/threads/nope/state")
        assert response.status_code == 404


class TestPutState:
    @pytest.mark.parametrize("value", [{"a": [1, 2]}, "active", 3.5, [1, "x"], True, None])
    async def test_any_json_value(self, api: httpx.AsyncClient, value: object) -> None:
        response = await api.put(STATE, json={"state": value})
        assert response.status_code == 200
        assert response.json()["state"] == value
        assert (await api.get(STATE)).json()["state"] == value

    async def test_versions_and_etag(self, api: httpx.AsyncClient) -> None:
        first = await api.put(STATE, json={"state": 1})
        second = await api.put(STATE, json={"state": 2})
        assert first.headers["etag"] == '"1"'
        assert second.headers["etag"] == '"2"'
        thread = (await api.get(THREAD)).json()
        assert (thread["state"], thread["state_version"]) == (2, 2)

    async def test_if_match_success_and_412(self, api: httpx.AsyncClient) -> None:
        etag = (await api.get(STATE)).headers["etag"]
        ok = await api.put(STATE, json={"state": "a"}, headers={"If-Match": etag})
        assert ok.status_code == 200
        stale = await api.put(STATE, json={"state": "b"}, headers={"If-Match": etag})
        assert stale.status_code == 412
        assert stale.headers["content-type"] == "application/problem+json"
        assert stale.headers["etag"] == '"1"'
        assert (await api.get(STATE)).json()["state"] == "a"

    @pytest.mark.parametrize(("header", "status"), [("*", 200), ('"7", "0"', 200), ('W/"0"', 412)])
    async def test_if_match_forms(self, api: httpx.AsyncClient, header: str, status: int) -> None:
        response = await api.put(STATE, json={"state": 1}, headers={"If-Match": header})
        assert response.status_code == status

    async def test_malformed_if_match_is_422(self, api: httpx.AsyncClient) -> None:
        response = await api.put(STATE, json={"state": 1}, headers={"If-Match": "abc"})
        assert response.status_code == 422

    async def test_archived_thread_refuses(self, api: httpx.AsyncClient) -> None:
        await api.delete(THREAD)
        assert (await api.put(STATE, json={"state": 1})).status_code == 409

    async def test_integer_past_64_bits_is_422(self, api: httpx.AsyncClient) -> None:
        response = await api.put(STATE, json={"state": {"big": 2**70}})
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["body", "state", "big"]

    async def test_body_without_state_is_422(self, api: httpx.AsyncClient) -> None:
        assert (await api.put(STATE, json={"value": 1})).status_code == 422


class TestPatchState:
    async def test_merge_patch(self, api: httpx.AsyncClient) -> None:
        await api.put(STATE, json={"state": {"a": {"b": 1, "c": 2}, "d": 3}})
        patch = b'{"a": {"c": null, "e": 4}, "d": null}'
        response = await api.patch(STATE, content=patch, headers=MERGE)
        assert response.status_code == 200
        assert response.json()["state"] == {"a": {"b": 1, "e": 4}}
        assert response.json()["version"] == 2

    async def test_patch_replaces_a_non_object(self, api: httpx.AsyncClient) -> None:
        await api.put(STATE, json={"state": "text"})
        response = await api.patch(STATE, content=b'{"k": 1}', headers=MERGE)
        assert response.json()["state"] == {"k": 1}

    async def test_patch_with_stale_if_match(self, api: httpx.AsyncClient) -> None:
        await api.put(STATE, json={"state": {"a": 1}})
        response = await api.patch(STATE, content=b'{"a": 2}', headers={**MERGE, "If-Match": '"0"'})
        assert response.status_code == 412
        assert (await api.get(STATE)).json()["state"] == {"a": 1}


class TestStateHistory:
    async def test_earlier_versions_newest_first_with_paging(self, api: httpx.AsyncClient) -> None:
        for value in range(1, 6):
            await api.put(STATE, json={"state": {"n": value}})
        page = (await api.get(f"{STATE}/history", params={"limit": 2})).json()
        assert [v["version"] for v in page["data"]] == [4, 3]
        assert [v["state"] for v in page["data"]] == [{"n": 4}, {"n": 3}]
        assert page["has_more"] is True
        rest = await api.get(f"{STATE}/history", params={"limit": 10, "after": page["last_id"]})
        assert [v["version"] for v in rest.json()["data"]] == [2, 1]
        assert rest.json()["has_more"] is False

    async def test_missing_thread_is_404(self, api: httpx.AsyncClient) -> None:
        response = await api.get("/v1/spaces/default/threads/nope/state/history")
        assert response.status_code == 404
