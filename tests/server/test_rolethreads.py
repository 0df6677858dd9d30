"""The original threadmem server API (``/v1/rolethreads``) in its own JSON shapes, on SQLite
and PostgreSQL, and how it meets threadloom's own API."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures.app import services_of
from threadloom.core import rolethreads as rolethreads_service
from threadloom.threadmem import V1Role, V1RoleMessage, V1RoleThread, V1RoleThreads

pytestmark = pytest.mark.anyio

ROOT = "/v1/rolethreads"
NATIVE = "/v1/spaces/default/threads"
PROBLEMS = "https://threadloom.dev/problems/"
THREAD_KEYS = {
    "owner_id",
    "public",
    "name",
    "metadata",
    "id",
    "messages",
    "role_mapping",
    "version",
    "created",
    "updated",
    "remote",
}
MESSAGE_KEYS = {"id", "role", "text", "images", "private", "metadata", "created", "thread_id"}
ROLE = {
    "name": "assistant",
    "user_id": "u-7",
    "user_name": "Ada",
    "icon": "https://x.test/ada.png",
    "description": "helps",
}


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEMS + slug
    assert body["status"] == status
    return body


def assert_thread_shape(thread: dict[str, Any]) -> None:
    assert set(thread) == THREAD_KEYS
    assert isinstance(thread["id"], str)
    assert isinstance(thread["public"], bool)
    assert type(thread["created"]) is float
    assert type(thread["updated"]) is float
    assert isinstance(thread["version"], str)
    assert re.fullmatch(r"[0-9a-f]{64}", thread["version"])
    assert thread["remote"] is None
    for message in thread["messages"]:
        assert_message_shape(message)
    for name, role in thread["role_mapping"].items():
        assert isinstance(name, str)
        assert set(role) == {"name", "user_id", "user_name", "icon", "description"}
    V1RoleThread.model_validate(thread)  # what an original client parses


def assert_message_shape(message: dict[str, Any]) -> None:
    assert set(message) == MESSAGE_KEYS
    assert type(message["created"]) is float
    assert isinstance(message["private"], bool)
    assert isinstance(message["metadata"], dict)
    V1RoleMessage.model_validate(message)


async def create(api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await api.post(ROOT, json=body)
    assert response.status_code == 200, response.text
    thread: dict[str, Any] = response.json()
    assert_thread_shape(thread)
    return thread


async def get(api: httpx.AsyncClient, thread_id: str) -> dict[str, Any]:
    response = await api.get(f"{ROOT}/{thread_id}")
    assert response.status_code == 200, response.text
    thread: dict[str, Any] = response.json()
    assert_thread_shape(thread)
    return thread


async def post(api: httpx.AsyncClient, thread_id: str, /, **body: Any) -> dict[str, Any]:
    response = await api.post(f"{ROOT}/{thread_id}/msgs", json=body)
    assert response.status_code == 200, response.text
    message: dict[str, Any] = response.json()
    assert_message_shape(message)
    return message


async def listed(api: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await api.get(ROOT, params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"threads"}
    V1RoleThreads.model_validate(body)
    threads: list[dict[str, Any]] = body["threads"]
    for thread in threads:
        assert_thread_shape(thread)
    return threads


def ids(threads: list[dict[str, Any]]) -> list[str]:
    return [thread["id"] for thread in threads]


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of two, so a handful of items walks several cursors."""
    monkeypatch.setattr(rolethreads_service, "PAGE_SIZE", 2)


class TestCreate:
    async def test_defaults(self, api: httpx.AsyncClient) -> None:
        thread = await create(api)
        assert thread["id"].startswith("thr_")
        assert thread["public"] is False
        assert thread["name"] is None
        assert thread["owner_id"] is None
        assert thread["metadata"] == {}
        assert thread["messages"] == []
        assert thread["role_mapping"] == {}
        assert thread["created"] == thread["updated"]
        assert await get(api, thread["id"]) == thread

    async def test_every_field(self, api: httpx.AsyncClient) -> None:
        thread = await create(
            api, id="rt-1", name="Support", public=True, metadata={"k": 1}, owner_id="ann"
        )
        assert thread["id"] == "rt-1"
        assert thread["name"] == "Support"
        assert thread["public"] is True
        assert thread["metadata"] == {"k": 1}
        assert thread["owner_id"] == "ann"

    async def test_a_whole_v1_thread_as_the_body(self, api: httpx.AsyncClient) -> None:
        """The original client posts ``to_v1().model_dump()``: extra fields are ignored and
        its role mapping kept."""
        body: dict[str, object] = {
            "id": "dumped",
            "owner_id": None,
            "public": False,
            "name": "n",
            "metadata": None,
            "messages": [],
            "role_mapping": {"assistant": ROLE},
            "version": "abc",
            "created": 1.5,
            "updated": 1.5,
            "remote": None,
        }
        thread = await create(api, **body)
        assert thread["role_mapping"] == {"assistant": ROLE}
        assert thread["version"] != "abc"
        assert thread["created"] > 1.5

    async def test_duplicate_id_is_409(self, api: httpx.AsyncClient) -> None:
        await create(api, id="same")
        assert_problem(await api.post(ROOT, json={"id": "same"}), 409, "already-exists")

    async def test_invalid_id_is_422(self, api: httpx.AsyncClient) -> None:
        assert_problem(await api.post(ROOT, json={"id": "has space"}), 422, "validation-error")

    async def test_idempotency_key_replays(self, api: httpx.AsyncClient) -> None:
        headers = {"Idempotency-Key": "rt-create-1"}
        first = await api.post(ROOT, json={"name": "once"}, headers=headers)
        again = await api.post(ROOT, json={"name": "once"}, headers=headers)
        assert first.status_code == again.status_code == 200
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
        assert len(await listed(api)) == 1


class TestList:
    async def test_empty(self, api: httpx.AsyncClient) -> None:
        assert await listed(api) == []

    @pytest.mark.usefixtures("small_pages")
    async def test_all_with_their_messages_oldest_first(self, api: httpx.AsyncClient) -> None:
        made = [(await create(api, id=f"t{i}"))["id"] for i in range(5)]
        for text in ("one", "two", "three"):
            await post(api, "t1", role="user", msg=text)
        threads = await listed(api)
        assert ids(threads) == made
        assert [m["text"] for m in threads[1]["messages"]] == ["one", "two", "three"]
        assert ids(await listed(api, sort="created_desc")) == made[::-1]
        without = await listed(api, messages="false")
        assert ids(without) == made
        assert all(thread["messages"] == [] for thread in without)

    @pytest.mark.usefixtures("small_pages")
    async def test_filters(self, api: httpx.AsyncClient) -> None:
        await create(api, id="a", name="Support", owner_id="ann", public=True)
        await create(api, id="b", name="Support chat", owner_id="ann")
        await create(api, id="c", name="support", owner_id="bob", public=True)
        await create(api, id="d", name="Support", owner_id="bob")
        await create(api, id="e", owner_id="ann", public=True)
        assert ids(await listed(api, owner_id="ann")) == ["a", "b", "e"]
        assert ids(await listed(api, name="Support")) == ["a", "d"]
        assert ids(await listed(api, public="true")) == ["a", "c", "e"]
        assert ids(await listed(api, public="false")) == ["b", "d"]
        assert ids(await listed(api, owner_id="ann", public="true")) == ["a", "e"]
        assert ids(await listed(api, name="Support", owner_id="bob")) == ["d"]
        assert ids(await listed(api, id="c")) == ["c"]
        assert ids(await listed(api, id="c", owner_id="ann")) == []
        assert ids(await listed(api, id="nowhere")) == []
        assert await listed(api, owner_id="nobody") == []

    async def test_filters_in_a_json_body(self, api: httpx.AsyncClient) -> None:
        """The original client's ``find(remote=..., **filters)`` sends them as a GET body."""
        await create(api, id="a", owner_id="ann")
        await create(api, id="b", owner_id="ann")
        await create(api, id="c", owner_id="bob")
        response = await api.request("GET", ROOT, json={"owner_id": "ann", "sort": "created_desc"})
        assert response.status_code == 200, response.text
        assert ids(response.json()["threads"]) == ["b", "a"]
        response = await api.request("GET", ROOT, json={"id": "c"})
        assert ids(response.json()["threads"]) == ["c"]
        # The query string wins over the body.
        response = await api.request(
            "GET", ROOT, params={"owner_id": "bob"}, json={"owner_id": "ann"}
        )
        assert ids(response.json()["threads"]) == ["c"]

    async def test_bad_filters_are_422(self, api: httpx.AsyncClient) -> None:
        assert_problem(await api.get(ROOT, params={"public": "maybe"}), 422, "validation-error")
        assert_problem(await api.get(ROOT, params={"sort": "size"}), 422, "validation-error")
        bad_body = await api.request("GET", ROOT, content=b"[1]")
        assert_problem(bad_body, 422, "validation-error")
        bad_json = await api.request("GET", ROOT, content=b"{nope")
        assert_problem(bad_json, 422, "validation-error")

    async def test_archived_threads_are_not_listed(self, api: httpx.AsyncClient) -> None:
        await create(api, id="kept")
        await create(api, id="gone")
        assert (await api.delete(f"{NATIVE}/gone")).status_code == 200
        assert ids(await listed(api)) == ["kept"]
        assert await listed(api, id="gone") == []


class TestGet:
    @pytest.mark.usefixtures("small_pages")
    async def test_every_message_in_order(self, api: httpx.AsyncClient) -> None:
        await create(api, id="long")
        for i in range(5):
            await post(api, "long", role="user" if i % 2 == 0 else "assistant", msg=f"m{i}")
        thread = await get(api, "long")
        assert [m["text"] for m in thread["messages"]] == [f"m{i}" for i in range(5)]
        assert [m["role"] for m in thread["messages"]][:2] == ["user", "assistant"]
        assert all(m["thread_id"] == "long" for m in thread["messages"])
        created = [m["created"] for m in thread["messages"]]
        assert created == sorted(created)
        assert thread["created"] <= created[0] <= created[-1] <= thread["updated"]

    async def test_missing_is_404(self, api: httpx.AsyncClient) -> None:
        assert_problem(await api.get(f"{ROOT}/nowhere"), 404, "not-found")

    async def test_version_changes_with_the_thread(self, api: httpx.AsyncClient) -> None:
        thread = await create(api, id="v")
        versions = {thread["version"]}
        assert (await get(api, "v"))["version"] == thread["version"]
        await post(api, "v", role="user", msg="hi")
        versions.add((await get(api, "v"))["version"])
        put = await api.put(f"{ROOT}/v", json={"public": True})
        versions.add(put.json()["version"])
        await api.post(f"{ROOT}/v/roles", json=ROLE)
        versions.add((await get(api, "v"))["version"])
        assert len(versions) == 4


class TestPut:
    async def test_updates_and_replaces_metadata(self, api: httpx.AsyncClient) -> None:
        await create(api, id="p", name="old", metadata={"a": 1, "b": 2}, public=True)
        await post(api, "p", role="user", msg="kept")
        response = await api.put(
            f"{ROOT}/p", json={"public": False, "name": "new", "metadata": {"c": 3}}
        )
        assert response.status_code == 200, response.text
        thread = response.json()
        assert_thread_shape(thread)
        assert thread["name"] == "new"
        assert thread["public"] is False
        assert thread["metadata"] == {"c": 3}
        assert [m["text"] for m in thread["messages"]] == ["kept"]
        assert await get(api, "p") == thread

    async def test_omitted_name_and_metadata_are_kept(self, api: httpx.AsyncClient) -> None:
        await create(api, id="p", name="old", metadata={"a": 1})
        thread = (await api.put(f"{ROOT}/p", json={"public": True})).json()
        assert (thread["name"], thread["metadata"], thread["public"]) == ("old", {"a": 1}, True)

    async def test_creates_a_missing_thread(self, api: httpx.AsyncClient) -> None:
        body = {"public": True, "name": "fresh", "metadata": {"x": "y"}}
        response = await api.put(f"{ROOT}/made-by-put", json=body)
        assert response.status_code == 200, response.text
        thread = response.json()
        assert_thread_shape(thread)
        assert (thread["id"], thread["name"], thread["public"]) == ("made-by-put", "fresh", True)
        assert thread["metadata"] == {"x": "y"}
        assert await get(api, "made-by-put") == thread

    async def test_public_is_required(self, api: httpx.AsyncClient) -> None:
        await create(api, id="p")
        assert_problem(await api.put(f"{ROOT}/p", json={"name": "x"}), 422, "validation-error")


class TestDelete:
    async def test_purges(self, api: httpx.AsyncClient) -> None:
        await create(api, id="d")
        await post(api, "d", role="user", msg="bye")
        response = await api.delete(f"{ROOT}/d")
        assert response.status_code == 200
        assert response.json() == {"message": "Thread deleted successfully"}
        assert_problem(await api.get(f"{ROOT}/d"), 404, "not-found")
        assert_problem(await api.get(f"{NATIVE}/d"), 404, "not-found")
        await create(api, id="d")  # the id is free again: nothing was left behind

    async def test_missing_is_404(self, api: httpx.AsyncClient) -> None:
        assert_problem(await api.delete(f"{ROOT}/nowhere"), 404, "not-found")


class TestPostMessage:
    async def test_short_form(self, api: httpx.AsyncClient) -> None:
        await create(api, id="m")
        message = await post(api, "m", role="user", msg="look", images=["https://x.test/cat.png"])
        assert message["role"] == "user"
        assert message["text"] == "look"
        assert message["images"] == ["https://x.test/cat.png"]
        assert message["private"] is False
        assert message["metadata"] == {}
        assert message["thread_id"] == "m"
        assert (await get(api, "m"))["messages"] == [message]

    async def test_whole_v1_message_with_private_and_metadata(self, api: httpx.AsyncClient) -> None:
        await create(api, id="m")
        body = {
            "id": "client-chosen",
            "role": "assistant",
            "text": "a secret",
            "images": [],
            "private": True,
            "metadata": {"tokens": 3, "model": "x"},
            "created": 12.0,
            "thread_id": "m",
        }
        message = await post(api, "m", **body)
        assert message["text"] == "a secret"
        assert message["private"] is True
        assert message["metadata"] == {"tokens": 3, "model": "x"}
        assert message["id"].startswith("msg_")  # the server assigns ids and times
        assert message["created"] > 12.0
        assert (await get(api, "m"))["messages"] == [message]
        native = await api.get(f"{NATIVE}/m/messages", params={"include_private": "true"})
        stored = native.json()["data"][0]
        assert (stored["content"], stored["private"]) == ("a secret", True)
        assert stored["metadata"] == {"tokens": 3, "model": "x"}

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"role": "user"}, None),
            ({"role": "user", "msg": "a", "text": "b"}, None),
            ({"role": "user", "msg": "a", "images": ["file.png"]}, "images"),
            ({"role": "", "msg": "a"}, "role"),
            ({"msg": "a"}, "role"),
        ],
    )
    async def test_invalid_is_422(
        self, api: httpx.AsyncClient, body: dict[str, Any], field: str | None
    ) -> None:
        await create(api, id="m")
        problem = assert_problem(
            await api.post(f"{ROOT}/m/msgs", json=body), 422, "validation-error"
        )
        if field is not None:
            assert any(error["loc"][:2] == ["body", field] for error in problem["errors"])
        assert (await get(api, "m"))["messages"] == []

    async def test_missing_thread_is_404(self, api: httpx.AsyncClient) -> None:
        response = await api.post(f"{ROOT}/nowhere/msgs", json={"role": "user", "msg": "x"})
        assert_problem(response, 404, "not-found")


class TestRoles:
    async def test_add_and_remove_by_body(self, api: httpx.AsyncClient) -> None:
        await create(api, id="r")
        added = await api.post(f"{ROOT}/r/roles", json=ROLE)
        assert added.status_code == 200, added.text
        assert added.json() == ROLE
        assert (await get(api, "r"))["role_mapping"] == {"assistant": ROLE}
        native = (await api.get(f"{NATIVE}/r")).json()
        assert native["role_mapping"] == {"assistant": ROLE}
        removed = await api.request("DELETE", f"{ROOT}/r/roles", json={"name": "assistant"})
        assert removed.status_code == 200, removed.text
        assert removed.json() == ROLE
        assert (await get(api, "r"))["role_mapping"] == {}

    async def test_remove_by_query(self, api: httpx.AsyncClient) -> None:
        await create(api, id="r")
        await api.post(f"{ROOT}/r/roles", json=ROLE)
        await api.post(f"{ROOT}/r/roles", json={**ROLE, "name": "user"})
        removed = await api.delete(f"{ROOT}/r/roles", params={"name": "assistant"})
        assert removed.status_code == 200, removed.text
        assert set((await get(api, "r"))["role_mapping"]) == {"user"}

    async def test_duplicate_is_409(self, api: httpx.AsyncClient) -> None:
        await create(api, id="r")
        await api.post(f"{ROOT}/r/roles", json=ROLE)
        again = await api.post(f"{ROOT}/r/roles", json={**ROLE, "user_name": "Other"})
        assert_problem(again, 409, "conflict")
        assert (await get(api, "r"))["role_mapping"] == {"assistant": ROLE}

    async def test_absent_is_404(self, api: httpx.AsyncClient) -> None:
        await create(api, id="r")
        response = await api.request("DELETE", f"{ROOT}/r/roles", json={"name": "ghost"})
        assert_problem(response, 404, "not-found")

    async def test_no_name_is_422(self, api: httpx.AsyncClient) -> None:
        await create(api, id="r")
        assert_problem(await api.delete(f"{ROOT}/r/roles"), 422, "validation-error")
        differing = await api.request(
            "DELETE", f"{ROOT}/r/roles", params={"name": "a"}, json={"name": "b"}
        )
        assert_problem(differing, 422, "validation-error")

    async def test_incomplete_role_is_422(self, api: httpx.AsyncClient) -> None:
        await create(api, id="r")
        response = await api.post(f"{ROOT}/r/roles", json={"name": "assistant"})
        assert_problem(response, 422, "validation-error")

    async def test_missing_thread_is_404(self, api: httpx.AsyncClient) -> None:
        assert_problem(await api.post(f"{ROOT}/nowhere/roles", json=ROLE), 404, "not-found")
        response = await api.delete(f"{ROOT}/nowhere/roles", params={"name": "x"})
        assert_problem(response, 404, "not-found")

    async def test_roles_set_natively_read_as_v1(self, api: httpx.AsyncClient) -> None:
        """threadloom roles may lack fields the original requires: they read as ''."""
        await create(api, id="r")
        patch = {"role_mapping": {"assistant": {"name": "Ada"}}}
        assert (await api.patch(f"{NATIVE}/r", json=patch)).status_code == 200
        role = (await get(api, "r"))["role_mapping"]["assistant"]
        assert role == {
            "name": "Ada",
            "user_id": "",
            "user_name": "",
            "icon": "",
            "description": None,
        }
        V1Role.model_validate(role)


class TestWithTheNativeApi:
    async def test_a_v1_thread_is_a_threadloom_thread(self, api: httpx.AsyncClient) -> None:
        v1 = await create(api, id="both", name="Title", metadata={"k": "v"}, owner_id="ann")
        native = (await api.get(f"{NATIVE}/both")).json()
        assert native["title"] == "Title"
        assert native["metadata"] == {"k": "v"}
        assert native["owner_id"] == "ann"
        assert native["space_id"] == "default"
        assert native["public"] is False
        created_at = datetime.fromisoformat(native["created_at"]).timestamp()
        assert v1["created"] == pytest.approx(created_at)

    async def test_native_messages_read_in_the_v1_shape(self, api: httpx.AsyncClient) -> None:
        created = await api.post(NATIVE, json={"id": "n", "title": "native"})
        assert created.status_code == 201
        sent = await api.post(
            f"{NATIVE}/n/messages",
            json={
                "role": "assistant",
                "content": "from threadloom",
                "images": ["data:image/png;base64,AAAA"],
                "private": True,
                "metadata": {"m": 1},
            },
        )
        assert sent.status_code == 201
        native = sent.json()
        thread = await get(api, "n")
        assert thread["name"] == "native"
        assert thread["messages"] == [
            {
                "id": native["id"],
                "role": "assistant",
                "text": "from threadloom",
                "images": ["data:image/png;base64,AAAA"],
                "private": True,
                "metadata": {"m": 1},
                "created": thread["messages"][0]["created"],
                "thread_id": "n",
            }
        ]

    async def test_appending_to_an_archived_thread_is_409(self, api: httpx.AsyncClient) -> None:
        await create(api, id="arch")
        assert (await api.delete(f"{NATIVE}/arch")).status_code == 200
        response = await api.post(f"{ROOT}/arch/msgs", json={"role": "user", "msg": "x"})
        assert_problem(response, 409, "thread-archived")


class TestAuth:
    async def test_bearer_key_confined_to_its_space(
        self, app: FastAPI, api: httpx.AsyncClient
    ) -> None:
        services = services_of(app)
        await services.store.create_space("other", "Other", {})
        writer, _ = await services.keys.create("writer", "default", None)
        other, _ = await services.keys.create("writer", "other", None)
        reader, _ = await services.keys.create("reader", "default", None)
        as_writer = {"Authorization": f"Bearer {writer}"}
        as_other = {"Authorization": f"Bearer {other}"}
        as_reader = {"Authorization": f"Bearer {reader}"}

        assert_problem(await api.get(ROOT), 401, "unauthenticated")
        assert_problem(await api.post(ROOT, json={}), 401, "unauthenticated")

        made = await api.post(ROOT, json={"id": "mine"}, headers=as_writer)
        assert made.status_code == 200, made.text
        for body in ({"role": "user", "msg": "hi"}, {"role": "a", "text": "p", "private": True}):
            sent = await api.post(f"{ROOT}/mine/msgs", json=body, headers=as_writer)
            assert sent.status_code == 200, sent.text
        native = await api.get(f"{NATIVE}/mine", headers=as_writer)
        assert native.status_code == 200

        # Another space's key sees nothing of it and writes into its own space.
        assert_problem(await api.get(f"{ROOT}/mine", headers=as_other), 404, "not-found")
        put = await api.put(f"{ROOT}/mine", json={"public": True}, headers=as_other)
        assert put.status_code == 200  # a new thread "mine" in space "other"
        listed_other = (await api.get(ROOT, headers=as_other)).json()["threads"]
        assert [(t["id"], t["messages"]) for t in listed_other] == [("mine", [])]
        elsewhere = await api.get("/v1/spaces/other/threads/mine", headers=as_other)
        assert elsewhere.status_code == 200
        assert (await get_with(api, "mine", as_writer))["public"] is False

        # A reader reads, never private messages, and never writes.
        read = await get_with(api, "mine", as_reader)
        assert [m["text"] for m in read["messages"]] == ["hi"]
        assert len((await get_with(api, "mine", as_writer))["messages"]) == 2
        denied = await api.post(
            f"{ROOT}/mine/msgs", json={"role": "user", "msg": "x"}, headers=as_reader
        )
        assert_problem(denied, 403, "forbidden")
        assert_problem(
            await api.post(f"{ROOT}/mine/roles", json=ROLE, headers=as_reader), 403, "forbidden"
        )
        assert_problem(await api.delete(f"{ROOT}/mine", headers=as_reader), 403, "forbidden")


async def get_with(api: httpx.AsyncClient, thread_id: str, headers: dict[str, str]) -> Any:
    response = await api.get(f"{ROOT}/{thread_id}", headers=headers)
    assert response.status_code == 200, response.text
    assert_thread_shape(response.json())
    return response.json()
