"""Idempotency-Key on every create route: replay, mismatch, in-flight, failed
creates, per-key scopes and header validation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

import anyio
import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from tests.fixtures.app import services_of
from threadloom.core.idempotency import fingerprint
from threadloom.models import (
    LegacyThreadCreate,
    MessageBatchCreate,
    MessageCreate,
    ThreadCreate,
    ThreadWithMessageCreate,
)

pytestmark = pytest.mark.anyio

PROBLEMS = "https://threadloom.dev/problems/"
OPEN_SCOPE = "open"  # the idempotency namespace of a server without keys


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


class PostBody(TypedDict, total=False):
    """The body keyword argument of ``AsyncClient.post`` that a replay case sends."""

    json: dict[str, Any]
    content: bytes


@dataclass(frozen=True)
class Create:
    name: str
    path: str
    body: dict[str, Any]
    other_body: dict[str, Any]
    model: type[BaseModel]
    status: int


CREATES = [
    Create(
        "thread",
        "/v1/spaces/default/threads",
        {"title": "idem", "metadata": {"a": 1}},
        {"title": "idem", "metadata": {"a": 2}},
        ThreadCreate,
        201,
    ),
    Create(
        "message",
        "/v1/spaces/default/threads/base/messages",
        {"role": "user", "content": "hello"},
        {"role": "user", "content": "hello!"},
        MessageCreate,
        201,
    ),
    Create(
        "batch",
        "/v1/spaces/default/threads/base/messages/batch",
        {"messages": [{"content": "one"}, {"content": "two", "role": "assistant"}]},
        {"messages": [{"content": "one"}]},
        MessageBatchCreate,
        201,
    ),
    Create(
        "thread+message",
        "/v1/spaces/default/threads/messages",
        {"thread": {"title": "idem"}, "message": {"content": "first"}},
        {"thread": {"title": "idem"}, "message": {"content": "other"}},
        ThreadWithMessageCreate,
        201,
    ),
    Create(
        "legacy",
        "/threads/",
        {"thread_id": "legacy-idem", "state": {"n": 1}, "initial_message": "hi"},
        {"thread_id": "legacy-idem", "state": {"n": 2}, "initial_message": "hi"},
        LegacyThreadCreate,
        200,
    ),
]
BY_NAME = {create.name: create for create in CREATES}


def request_hash(create: Create, body: dict[str, Any] | None = None) -> str:
    """The fingerprint the server computes for this request."""
    model = create.model.model_validate(create.body if body is None else body)
    return fingerprint("POST", create.path, model.model_dump(mode="json"))


async def counts(api: httpx.AsyncClient, headers: dict[str, str] | None = None) -> dict[str, int]:
    """Threads and messages in the default space."""
    page = await api.get(
        "/v1/spaces/default/threads", params={"status": "all", "limit": 100}, headers=headers
    )
    assert page.status_code == 200, page.text
    threads = page.json()["data"]
    return {
        "threads": len(threads),
        "messages": sum(thread["message_count"] for thread in threads),
    }


@pytest.fixture
async def base(api: httpx.AsyncClient) -> None:
    """The thread the message routes append to."""
    created = await api.post("/v1/spaces/default/threads", json={"id": "base"})
    assert created.status_code == 201, created.text


@pytest.mark.usefixtures("base")
@pytest.mark.parametrize("create", CREATES, ids=lambda c: c.name)
async def test_same_key_same_body_replays_the_first_response(
    api: httpx.AsyncClient, create: Create
) -> None:
    before = await counts(api)
    first = await api.post(create.path, json=create.body, headers={"Idempotency-Key": "abc"})
    assert first.status_code == create.status, first.text
    assert "idempotent-replayed" not in first.headers
    after_first = await counts(api)
    assert after_first != before

    # The quoted form of the draft and the bare token are the same key; the body is compared
    # by content, not by its bytes.
    sends: list[tuple[str, PostBody, dict[str, str]]] = [
        ('"abc"', {"json": create.body}, {}),
        ("abc", {"json": create.body}, {}),
        ("  abc ", {"json": create.body}, {}),
        (
            "abc",
            {
                "content": httpx.Request("POST", "/", json=create.body).content.replace(
                    b",", b" ,\n "
                ),
            },
            {"Content-Type": "application/json"},
        ),
    ]
    for header, send, extra_headers in sends:
        headers = {"Idempotency-Key": header, **extra_headers}
        again = await api.post(create.path, headers=headers, **send)
        assert again.status_code == create.status, again.text
        assert again.content == first.content
        assert again.headers["idempotent-replayed"] == "true"
        assert again.headers["content-type"] == first.headers["content-type"]
    assert await counts(api) == after_first


@pytest.mark.usefixtures("base")
@pytest.mark.parametrize("create", CREATES, ids=lambda c: c.name)
async def test_same_key_other_body_is_422(api: httpx.AsyncClient, create: Create) -> None:
    first = await api.post(create.path, json=create.body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == create.status, first.text
    after_first = await counts(api)
    other = await api.post(create.path, json=create.other_body, headers={"Idempotency-Key": "k-1"})
    problem = assert_problem(other, 422, "idempotency-key-reused")
    assert "idempotent-replayed" not in other.headers
    assert "different request" in problem["detail"]
    assert await counts(api) == after_first
    # The first request still replays after the refusal.
    replay = await api.post(create.path, json=create.body, headers={"Idempotency-Key": '"k-1"'})
    assert replay.content == first.content
    assert replay.headers["idempotent-replayed"] == "true"


@pytest.mark.usefixtures("base")
async def test_same_key_on_another_route_is_422(api: httpx.AsyncClient) -> None:
    thread = BY_NAME["thread"]
    message = BY_NAME["message"]
    first = await api.post(thread.path, json=thread.body, headers={"Idempotency-Key": "shared"})
    assert first.status_code == 201
    before = await counts(api)
    other = await api.post(message.path, json=message.body, headers={"Idempotency-Key": "shared"})
    assert_problem(other, 422, "idempotency-key-reused")
    assert await counts(api) == before


@pytest.mark.usefixtures("base")
async def test_without_a_key_every_request_creates(api: httpx.AsyncClient) -> None:
    create = BY_NAME["message"]
    before = await counts(api)
    for _ in range(2):
        response = await api.post(create.path, json=create.body)
        assert response.status_code == 201
        assert "idempotent-replayed" not in response.headers
    assert (await counts(api))["messages"] == before["messages"] + 2


# In flight ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("base")
async def test_a_duplicate_while_the_first_runs_is_409_then_replays(
    app: FastAPI, api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the first request is really running (here: held inside its create), the same
    key gets 409 with Retry-After; once it has committed, the same key replays it."""
    store = services_of(app).store
    real_create = store.create_thread
    entered, go_on = anyio.Event(), anyio.Event()

    async def slow_create(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        await go_on.wait()
        return await real_create(*args, **kwargs)

    monkeypatch.setattr(store, "create_thread", slow_create)
    create = BY_NAME["thread"]
    headers = {"Idempotency-Key": "k1"}
    responses: list[httpx.Response] = []

    async def first() -> None:
        responses.append(await api.post(create.path, json=create.body, headers=headers))

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(first)
        await entered.wait()
        duplicate = await api.post(create.path, json=create.body, headers=headers)
        problem = assert_problem(duplicate, 409, "request-in-progress")
        assert "still running" in problem["detail"]
        assert int(duplicate.headers["retry-after"]) >= 1
        go_on.set()
    (created,) = responses
    assert created.status_code == 201, created.text
    replay = await api.post(create.path, json=create.body, headers=headers)
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.content == created.content


@pytest.mark.usefixtures("base")
async def test_an_integer_beyond_64_bits_with_a_key_is_422(api: httpx.AsyncClient) -> None:
    """The fingerprint never fails: the value is refused as invalid, as without a key."""
    path = "/v1/spaces/default/threads/base/messages"
    body = {"content": "hi", "metadata": {"n": 2**70}}
    for headers in ({}, {"Idempotency-Key": "big"}):
        response = await api.post(path, json=body, headers=headers)
        assert 400 <= response.status_code < 500, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
    ok = await api.post(path, json={"content": "hi"}, headers={"Idempotency-Key": "big"})
    assert ok.status_code == 201, ok.text
    assert "idempotent-replayed" not in ok.headers


def test_the_fingerprint_never_raises() -> None:
    for body in ({"n": 2**70}, {"s": "\ud800"}, {"f": float("nan")}, {1: "non-string key"}):
        assert len(fingerprint("POST", "/p", body)) == 64
    assert fingerprint("POST", "/p", {"n": 2**70}) != fingerprint("POST", "/p", {"n": 2**71})


# Failures do not burn the key -------------------------------------------------------------


async def test_a_failed_create_does_not_burn_the_key(api: httpx.AsyncClient) -> None:
    path = "/v1/spaces/default/threads/later/messages"
    headers = {"Idempotency-Key": "retry-me"}
    missing = await api.post(path, json={"content": "hi"}, headers=headers)
    assert_problem(missing, 404, "not-found")
    # The failure is not replayed either: the same request fails again on its own.
    again = await api.post(path, json={"content": "hi"}, headers=headers)
    assert_problem(again, 404, "not-found")
    assert "idempotent-replayed" not in again.headers

    created = await api.post("/v1/spaces/default/threads", json={"id": "later"})
    assert created.status_code == 201
    ok = await api.post(path, json={"content": "hi"}, headers=headers)
    assert ok.status_code == 201, ok.text
    assert "idempotent-replayed" not in ok.headers
    replay = await api.post(path, json={"content": "hi"}, headers=headers)
    assert replay.status_code == 201
    assert replay.content == ok.content
    assert replay.headers["idempotent-replayed"] == "true"
    thread = await api.get("/v1/spaces/default/threads/later")
    assert thread.json()["message_count"] == 1


async def test_a_conflict_does_not_burn_the_key(api: httpx.AsyncClient) -> None:
    """An id already taken answers 409 every time until it is free, then the key works."""
    assert (await api.post("/v1/spaces/default/threads", json={"id": "taken"})).status_code == 201
    headers = {"Idempotency-Key": "conflict"}
    for _ in range(2):
        clash = await api.post("/v1/spaces/default/threads", json={"id": "taken"}, headers=headers)
        assert_problem(clash, 409, "already-exists")
    purged = await api.delete("/v1/spaces/default/threads/taken", params={"purge": "true"})
    assert purged.status_code == 204
    ok = await api.post("/v1/spaces/default/threads", json={"id": "taken"}, headers=headers)
    assert ok.status_code == 201, ok.text
    assert "idempotent-replayed" not in ok.headers


async def test_an_unexpected_error_does_not_burn_the_key(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = services_of(app).store
    real_create = store.create_thread

    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("the database went away mid-request")

    monkeypatch.setattr(store, "create_thread", broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        headers = {"Idempotency-Key": "boom"}
        body = {"id": "after-crash"}
        failed = await client.post("/v1/spaces/default/threads", json=body, headers=headers)
        assert_problem(failed, 500, "internal-error")
        monkeypatch.setattr(store, "create_thread", real_create)
        ok = await client.post("/v1/spaces/default/threads", json=body, headers=headers)
        assert ok.status_code == 201, ok.text
        assert "idempotent-replayed" not in ok.headers
        assert ok.json()["id"] == "after-crash"


# Scopes -----------------------------------------------------------------------------------


async def test_keys_are_scoped_per_api_key(app: FastAPI, api: httpx.AsyncClient) -> None:
    services = services_of(app)
    first_key, _ = await services.keys.create("writer", "default", "one")
    second_key, _ = await services.keys.create("writer", "default", "two")
    first = {"X-API-Key": first_key, "Idempotency-Key": "same"}
    second = {"Authorization": f"Bearer {second_key}", "Idempotency-Key": "same"}
    path = "/v1/spaces/default/threads"

    one = await api.post(path, json={"title": "one"}, headers=first)
    two = await api.post(path, json={"title": "two"}, headers=second)
    assert one.status_code == two.status_code == 201
    assert "idempotent-replayed" not in two.headers
    assert one.json()["id"] != two.json()["id"]
    # The very same request under another key is a new request, not a replay.
    three = await api.post(path, json={"title": "one"}, headers=second)
    assert_problem(three, 422, "idempotency-key-reused")

    replay = await api.post(path, json={"title": "one"}, headers=first)
    assert replay.content == one.content
    assert replay.headers["idempotent-replayed"] == "true"
    assert (await counts(api, {"X-API-Key": first_key}))["threads"] == 2


async def test_a_key_of_the_open_server_is_not_replayed_to_a_keyed_caller(
    app: FastAPI, api: httpx.AsyncClient
) -> None:
    path = "/v1/spaces/default/threads"
    opened = await api.post(path, json={"title": "open"}, headers={"Idempotency-Key": "k"})
    assert opened.status_code == 201
    key, _ = await services_of(app).keys.create("writer", "default", "late")
    keyed = await api.post(
        path, json={"title": "open"}, headers={"X-API-Key": key, "Idempotency-Key": "k"}
    )
    assert keyed.status_code == 201
    assert "idempotent-replayed" not in keyed.headers
    assert keyed.json()["id"] != opened.json()["id"]


# The header itself ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "a" * 256,
        "a" * 300,
        "has space",
        "",
        "   ",
        '""',
        "tab\there",
        "caf\u00e9",
    ],
    ids=["256", "300", "space", "empty", "blank", "empty-quoted", "tab", "non-ascii"],
)
async def test_an_invalid_key_is_422(api: httpx.AsyncClient, header: str) -> None:
    before = await counts(api)
    response = await api.post(
        "/v1/spaces/default/threads",
        json={"title": "x"},
        headers=[(b"Idempotency-Key", header.encode("utf-8"))],
    )
    problem = assert_problem(response, 422, "validation-error")
    assert "Idempotency-Key" in problem["detail"]
    assert problem["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    assert await counts(api) == before


@pytest.mark.parametrize("header", ["a" * 255, "!#$%&'*+-.^_`|~", '"quoted\\"inside"'])
async def test_valid_unusual_keys_are_accepted(api: httpx.AsyncClient, header: str) -> None:
    first = await api.post(
        "/v1/spaces/default/threads", json={"title": "x"}, headers={"Idempotency-Key": header}
    )
    assert first.status_code == 201, first.text
    again = await api.post(
        "/v1/spaces/default/threads", json={"title": "x"}, headers={"Idempotency-Key": header}
    )
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert (await counts(api))["threads"] == 1


@pytest.mark.usefixtures("base")
async def test_a_replay_announces_nothing_new(app: FastAPI, api: httpx.AsyncClient) -> None:
    """Live events tell what changed: a replayed create changed nothing."""
    events = services_of(app).events
    path = "/v1/spaces/default/threads/base/messages"
    headers = {"Idempotency-Key": "announce-once"}

    def created() -> list[Any]:
        return [e for e in events._recent if e.type == "message.created" and e.thread_id == "base"]

    first = await api.post(path, json={"content": "hi"}, headers=headers)
    assert first.status_code == 201
    assert len(created()) == 1  # the in-process transport delivers at once
    replay = await api.post(path, json={"content": "hi"}, headers=headers)
    assert replay.headers["idempotent-replayed"] == "true"
    assert len(created()) == 1
