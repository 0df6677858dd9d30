"""Error shapes (RFC 9457 problems), request validation, and size limits: every limit answers
413 and writes nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures.app import services_of
from tests.fixtures.databases import make_settings
from threadloom.config import Limits, Settings

pytestmark = pytest.mark.anyio

PROBLEMS = "https://threadloom.dev/problems/"
PROBLEM_FIELDS = {"type", "title", "status", "detail", "instance"}
BODY_LIMIT = 4096
THREADS = "/v1/spaces/default/threads"
T1 = THREADS + "/t1"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(
        database_url=database_url,
        migrate_on_start=False,
        limits=Limits(
            request_body_bytes=BODY_LIMIT,
            message_content_chars=50,
            metadata_bytes=64,
            images_per_message=2,
            state_bytes=100,
            title_chars=20,
            batch_messages=3,
        ),
    )


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert PROBLEM_FIELDS <= body.keys()
    assert body["type"] == PROBLEMS + slug
    assert body["status"] == status
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert body["instance"] == response.request.url.path
    assert "Traceback" not in response.text
    return body


def locs(problem: dict[str, Any]) -> list[list[str | int]]:
    assert isinstance(problem.get("errors"), list), problem
    assert problem["errors"], problem
    return [error["loc"] for error in problem["errors"]]


@pytest.fixture
async def t1(api: httpx.AsyncClient) -> dict[str, Any]:
    """Thread t1 with small metadata, a small state and one message."""
    created = await api.post(
        THREADS + "/messages",
        json={
            "thread": {"id": "t1", "title": "t", "metadata": {"a": "x" * 30}, "state": {"a": 1}},
            "message": {"content": "first"},
        },
    )
    assert created.status_code == 201, created.text
    thread: dict[str, Any] = created.json()["thread"]
    return thread


async def snapshot(api: httpx.AsyncClient) -> dict[str, Any]:
    """Everything in the default space that a refused request must leave alone."""
    threads = await api.get(THREADS, params={"status": "all", "limit": 100})
    assert threads.status_code == 200
    result: dict[str, Any] = {}
    for thread in threads.json()["data"]:
        path = f"{THREADS}/{thread['id']}"
        messages = await api.get(path + "/messages", params={"include_private": "true"})
        history = await api.get(path + "/state/history", params={"limit": 100})
        result[thread["id"]] = {
            "thread": thread,
            "messages": messages.json()["data"],
            "history": history.json()["data"],
        }
    return result


# The shape of every error -----------------------------------------------------------------


async def test_every_kind_of_error_is_a_problem(api: httpx.AsyncClient, t1: dict[str, Any]) -> None:
    assert t1["id"] == "t1"
    cases: list[tuple[httpx.Response, int, str]] = [
        (await api.get(THREADS + "/nothing"), 404, "not-found"),
        (await api.get("/v1/spaces/nowhere"), 404, "not-found"),
        (await api.get("/no/such/route"), 404, "not-found"),
        (await api.put("/v1/spaces"), 405, "method-not-allowed"),
        (await api.post(THREADS, json={"id": "t1"}), 409, "already-exists"),
        (
            await api.put(T1 + "/state", json={"state": 2}, headers={"If-Match": '"9"'}),
            412,
            "precondition-failed",
        ),
        (await api.post(T1 + "/messages", json={"content": "x" * 51}), 413, "payload-too-large"),
        (await api.post(THREADS, json={"id": "has space"}), 422, "validation-error"),
        (await api.get(THREADS, params={"limit": 0}), 422, "validation-error"),
        (await api.get(THREADS, params={"after": "not-a-cursor"}), 422, "validation-error"),
        (
            await api.put(T1 + "/state", json={"state": 2}, headers={"If-Match": "nope"}),
            422,
            "validation-error",
        ),
        (await api.delete("/v1/spaces/default"), 409, "conflict"),
    ]
    for response, status, slug in cases:
        assert_problem(response, status, slug)
    archived = await api.delete(T1)
    assert archived.status_code == 200
    assert_problem(await api.post(T1 + "/messages", json={"content": "x"}), 409, "thread-archived")


async def test_a_validation_error_lists_the_offending_fields(api: httpx.AsyncClient) -> None:
    response = await api.post(
        THREADS, json={"id": "has space", "title": 5, "metadata": "nope", "colour": "red"}
    )
    problem = assert_problem(response, 422, "validation-error")
    found = locs(problem)
    for loc in (["body", "id"], ["body", "title"], ["body", "metadata"], ["body", "colour"]):
        assert loc in found, found
    for error in problem["errors"]:
        assert isinstance(error["msg"], str)
        assert error["msg"]
        assert "input" not in error  # the rejected values are not echoed back
    assert "body.id" in problem["detail"]


@pytest.mark.usefixtures("t1")
async def test_malformed_json_is_422(api: httpx.AsyncClient) -> None:
    before = await snapshot(api)
    for path, content in (
        (THREADS, b'{"id": "x",'),
        (T1 + "/messages", b'{"content": "hi"'),
        (T1 + "/messages/batch", b"not json at all"),
        ("/threads/", b"{'thread_id': 'single-quotes'}"),
    ):
        response = await api.post(
            path, content=content, headers={"Content-Type": "application/json"}
        )
        problem = assert_problem(response, 422, "validation-error")
        assert problem["detail"] == "the request body is not valid JSON"
        assert any(error["type"] == "json_invalid" for error in problem["errors"])
    assert await snapshot(api) == before


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        (T1 + "/messages", {"content": 5}, ["body", "content"]),
        (T1 + "/messages", {"content": None}, ["body", "content"]),
        (T1 + "/messages", {"images": "http://x/y.png"}, ["body", "images"]),
        (T1 + "/messages", {"role": ""}, ["body", "role"]),
        (T1 + "/messages", {"role": "r" * 65}, ["body", "role"]),
        (T1 + "/messages", {"metadata": []}, ["body", "metadata"]),
        (T1 + "/messages", {"private": [True]}, ["body", "private"]),
        (THREADS, {"metadata": []}, ["body", "metadata"]),
        (THREADS, {"metadata": "x"}, ["body", "metadata"]),
        (THREADS, {"public": [1]}, ["body", "public"]),
        (THREADS, {"title": {"text": "x"}}, ["body", "title"]),
        (THREADS, {"role_mapping": {"assistant": {"icon": "x"}}}, ["body", "role_mapping"]),
        (T1 + "/messages/batch", {"messages": []}, ["body", "messages"]),
        (T1 + "/messages/batch", {"messages": {"content": "x"}}, ["body", "messages"]),
        # Neither form: no "message", so the flat one, whose content is required.
        (THREADS + "/messages", {"thread": {}}, ["body", "content"]),
        (THREADS + "/messages", {"content": 5}, ["body", "content"]),
        (THREADS + "/messages", {"content": "x", "role": ""}, ["body", "role"]),
        ("/threads/", {"state": 1}, ["body", "thread_id"]),
        ("/v1/keys", {"role": "root"}, ["body", "role"]),
    ],
)
async def test_wrong_types_are_422(
    api: httpx.AsyncClient, t1: dict[str, Any], path: str, body: Any, loc: list[str]
) -> None:
    assert t1["message_count"] == 1
    before = await snapshot(api)
    problem = assert_problem(await api.post(path, json=body), 422, "validation-error")
    assert any(found[: len(loc)] == loc for found in locs(problem)), locs(problem)
    assert await snapshot(api) == before


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        (THREADS, {"public": "yes"}, ["body", "public"]),
        (T1 + "/messages", {"private": "no"}, ["body", "private"]),
        (T1 + "/messages", {"private": 1}, ["body", "private"]),
    ],
)
async def test_strings_are_not_booleans(
    api: httpx.AsyncClient, t1: dict[str, Any], path: str, body: Any, loc: list[str]
) -> None:
    assert t1["message_count"] == 1
    before = await snapshot(api)
    problem = assert_problem(await api.post(path, json=body), 422, "validation-error")
    assert loc in locs(problem)
    assert await snapshot(api) == before


@pytest.mark.parametrize(
    ("method", "path", "body", "loc"),
    [
        ("POST", THREADS, {"colour": "red"}, ["body", "colour"]),
        ("POST", T1 + "/messages", {"content": "x", "author": "me"}, ["body", "author"]),
        ("POST", THREADS + "/messages", {"message": {}, "extra": 1}, ["body", "extra"]),
        ("POST", THREADS + "/messages", {"message": {"text": "x"}}, ["body", "message", "text"]),
        ("POST", THREADS + "/messages", {"content": "x", "text": "y"}, ["body", "text"]),
        ("POST", T1 + "/messages/batch", {"messages": [{"txt": "x"}]}, ["body", "messages"]),
        ("PATCH", T1, {"titel": "typo"}, ["body", "titel"]),
        ("PUT", T1 + "/state", {"state": 1, "version": 2}, ["body", "version"]),
        ("POST", "/threads/", {"thread_id": "x", "initial": "hi"}, ["body", "initial"]),
        ("PUT", "/threads/t1", {"state": 1, "meta": 1}, ["body", "meta"]),
        ("POST", "/v1/spaces", {"id": "s", "title": "x"}, ["body", "title"]),
    ],
)
async def test_unknown_fields_are_422(
    api: httpx.AsyncClient,
    t1: dict[str, Any],
    method: str,
    path: str,
    body: Any,
    loc: list[str],
) -> None:
    assert t1["id"] == "t1"
    before = await snapshot(api)
    problem = assert_problem(await api.request(method, path, json=body), 422, "validation-error")
    found = locs(problem)
    assert any(f[: len(loc)] == loc for f in found), found
    assert any(error["type"] == "extra_forbidden" for error in problem["errors"])
    assert await snapshot(api) == before


@pytest.mark.parametrize(
    "thread_id",
    ["has space", "x" * 129, "", "a/b", "tab\t", "caf\u00e9", "new\nline", "trailing\n"],
)
async def test_invalid_thread_ids_are_422(api: httpx.AsyncClient, thread_id: str) -> None:
    for path, body, loc in (
        (THREADS, {"id": thread_id}, ["body", "id"]),
        (THREADS + "/messages", {"thread": {"id": thread_id}, "message": {}}, ["body", "thread"]),
        (THREADS + "/messages", {"thread": {"id": thread_id}, "content": ""}, ["body", "thread"]),
        ("/threads/", {"thread_id": thread_id}, ["body", "thread_id"]),
    ):
        problem = assert_problem(await api.post(path, json=body), 422, "validation-error")
        assert any(found[: len(loc)] == loc for found in locs(problem)), locs(problem)
    assert await snapshot(api) == {}


async def test_the_longest_thread_id_is_accepted(api: httpx.AsyncClient) -> None:
    longest = "a" * 128
    created = await api.post(THREADS, json={"id": longest})
    assert created.status_code == 201
    assert (await api.get(f"{THREADS}/{longest}")).status_code == 200
    too_long = await api.get(f"{THREADS}/{longest}b")
    assert_problem(too_long, 422, "validation-error")


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/a.png",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "/relative/a.png",
        "example.com/a.png",
        "HTTP//missing-colon",
        "",
    ],
)
async def test_images_must_be_http_or_data_urls(
    api: httpx.AsyncClient, t1: dict[str, Any], url: str
) -> None:
    assert t1["id"] == "t1"
    before = await snapshot(api)
    images = ["https://example.com/ok.png", url]
    for path, body, prefix in (
        (T1 + "/messages", {"images": images}, ["body", "images"]),
        (T1 + "/messages/batch", {"messages": [{"images": images}]}, ["body", "messages", 0]),
        (THREADS + "/messages", {"message": {"images": images}}, ["body", "message", "images"]),
        (THREADS + "/messages", {"content": "", "images": images}, ["body", "images"]),
    ):
        problem = assert_problem(await api.post(path, json=body), 422, "validation-error")
        assert any(found[: len(prefix)] == prefix for found in locs(problem)), locs(problem)
    assert await snapshot(api) == before


async def test_http_and_data_images_are_accepted(
    api: httpx.AsyncClient, t1: dict[str, Any]
) -> None:
    images = ["http://example.com/a.png", "data:image/png;base64,iVBORw0KGgo="]
    created = await api.post(f"{THREADS}/{t1['id']}/messages", json={"images": images})
    assert created.status_code == 201, created.text
    assert created.json()["images"] == images


async def test_an_unknown_route_is_a_404_problem(api: httpx.AsyncClient) -> None:
    for method, path in (
        ("GET", "/v2/threads"),
        ("POST", "/v1/nothing"),
        ("GET", "/v1/spaces/default/threads/t1/comments"),
    ):
        problem = assert_problem(await api.request(method, path), 404, "not-found")
        assert problem["detail"] == f"no route {method} {path}"


WRONG_METHODS = [
    ("PUT", "/v1/spaces", {"GET", "POST"}),
    ("DELETE", THREADS, {"GET", "POST"}),
    ("PUT", T1, {"GET", "PATCH", "DELETE"}),
    ("DELETE", "/threads/t1", {"GET", "PUT"}),
    ("POST", "/healthz", {"GET"}),
]


def allow_header(response: httpx.Response) -> set[str]:
    return {method.strip() for method in response.headers["allow"].split(",") if method.strip()}


@pytest.mark.parametrize(("method", "path", "allowed"), WRONG_METHODS)
async def test_a_wrong_method_is_a_405_problem(
    api: httpx.AsyncClient, method: str, path: str, allowed: set[str]
) -> None:
    response = await api.request(method, path)
    problem = assert_problem(response, 405, "method-not-allowed")
    assert problem["title"] == "Method not allowed"
    offered = allow_header(response)
    assert offered
    assert offered <= allowed | {"HEAD"}
    assert method not in offered


@pytest.mark.parametrize(
    ("method", "path", "allowed"), [case for case in WRONG_METHODS if len(case[2]) > 1]
)
async def test_a_405_allows_every_method_of_the_resource(
    api: httpx.AsyncClient, method: str, path: str, allowed: set[str]
) -> None:
    response = await api.request(method, path)
    assert response.status_code == 405
    assert allowed <= allow_header(response)


async def test_an_unexpected_error_is_a_bare_500(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch, t1: dict[str, Any]
) -> None:
    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("secret detail: password=hunter2")

    monkeypatch.setattr(services_of(app).store, "get_thread", broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        response = await client.get(f"{THREADS}/{t1['id']}")
    problem = assert_problem(response, 500, "internal-error")
    assert problem.keys() == PROBLEM_FIELDS
    for leak in ("Traceback", "secret detail", "hunter2", "RuntimeError", "get_thread", ".py"):
        assert leak not in response.text


# Limits: 413 and nothing written ----------------------------------------------------------


def padded_message(total_bytes: int) -> bytes:
    """A valid message body of exactly ``total_bytes`` bytes (content within its limit)."""
    head = json.dumps({"content": "hi", "metadata": {}}).encode()
    body = head[:-1] + b" " * (total_bytes - len(head)) + b"}"
    assert len(body) == total_bytes
    json.loads(body)
    return body


async def test_a_body_over_the_limit_with_content_length_is_413(
    api: httpx.AsyncClient, t1: dict[str, Any]
) -> None:
    assert t1["message_count"] == 1
    before = await snapshot(api)
    headers = {"Content-Type": "application/json"}
    response = await api.post(
        T1 + "/messages", content=padded_message(BODY_LIMIT + 1), headers=headers
    )
    assert response.request.headers["content-length"] == str(BODY_LIMIT + 1)
    problem = assert_problem(response, 413, "payload-too-large")
    assert str(BODY_LIMIT) in problem["detail"]
    for path in (THREADS, THREADS + "/messages", "/threads/", T1 + "/state"):
        method = "PUT" if path.endswith("/state") else "POST"
        big = json.dumps({"state": "x" * BODY_LIMIT, "message": {}, "thread_id": "big"})
        refused = await api.request(method, path, content=big, headers=headers)
        assert_problem(refused, 413, "payload-too-large")
    assert await snapshot(api) == before
    # At the limit exactly, the same request is fine.
    ok = await api.post(T1 + "/messages", content=padded_message(BODY_LIMIT), headers=headers)
    assert ok.status_code == 201, ok.text


async def chunks(body: bytes, size: int = 512) -> AsyncIterator[bytes]:
    """A streamed body: httpx sends it chunked, with no Content-Length."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def test_a_small_streamed_body_is_accepted(
    api: httpx.AsyncClient, t1: dict[str, Any]
) -> None:
    response = await api.post(
        f"{THREADS}/{t1['id']}/messages",
        content=chunks(padded_message(BODY_LIMIT)),
        headers={"Content-Type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 201, response.text


async def test_a_streamed_body_over_the_limit_writes_nothing(
    api: httpx.AsyncClient, t1: dict[str, Any]
) -> None:
    assert t1["message_count"] == 1
    before = await snapshot(api)
    response = await api.post(
        T1 + "/messages",
        content=chunks(padded_message(BODY_LIMIT + 1)),
        headers={"Content-Type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert await snapshot(api) == before


async def test_a_streamed_body_over_the_limit_is_413(
    api: httpx.AsyncClient, t1: dict[str, Any]
) -> None:
    response = await api.post(
        f"{THREADS}/{t1['id']}/messages",
        content=chunks(padded_message(BODY_LIMIT + 1)),
        headers={"Content-Type": "application/json"},
    )
    problem = assert_problem(response, 413, "payload-too-large")
    assert str(BODY_LIMIT) in problem["detail"]


LIMITED: list[tuple[str, str, str, Any, list[str | int] | None]] = [
    # (name, method, path, body, loc of the error)
    ("content", "POST", T1 + "/messages", {"content": "x" * 51}, ["body", "content"]),
    (
        "images",
        "POST",
        T1 + "/messages",
        {"images": ["http://a/1.png", "http://a/2.png", "http://a/3.png"]},
        ["body", "images"],
    ),
    (
        "message-metadata",
        "POST",
        T1 + "/messages",
        {"metadata": {"k": "v" * 60}},
        ["body", "metadata"],
    ),
    (
        "thread-metadata",
        "POST",
        THREADS,
        {"id": "new", "metadata": {"k": "v" * 60}},
        ["body", "metadata"],
    ),
    ("thread-state", "POST", THREADS, {"id": "new", "state": "s" * 100}, ["body", "state"]),
    ("thread-title", "POST", THREADS, {"id": "new", "title": "t" * 21}, ["body", "title"]),
    (
        "thread+message thread",
        "POST",
        THREADS + "/messages",
        {"thread": {"id": "new", "state": ["s" * 100]}, "message": {"content": "ok"}},
        ["body", "thread", "state"],
    ),
    (
        "thread+message message",
        "POST",
        THREADS + "/messages",
        {"thread": {"id": "new"}, "message": {"content": "x" * 51}},
        ["body", "message", "content"],
    ),
    (
        "thread+message metadata",
        "POST",
        THREADS + "/messages",
        {"thread": {"id": "new"}, "message": {"metadata": {"k": "v" * 60}}},
        ["body", "message", "metadata"],
    ),
    (
        "flat thread+message thread",
        "POST",
        THREADS + "/messages",
        {"thread": {"id": "new", "state": ["s" * 100]}, "content": "ok"},
        ["body", "thread", "state"],
    ),
    (
        "flat thread+message content",
        "POST",
        THREADS + "/messages",
        {"thread": {"id": "new"}, "content": "x" * 51},
        ["body", "content"],
    ),
    (
        "flat thread+message metadata",
        "POST",
        THREADS + "/messages",
        {"content": "ok", "metadata": {"k": "v" * 60}},
        ["body", "metadata"],
    ),
    (
        "legacy-create-state",
        "POST",
        "/threads/",
        {"thread_id": "new", "state": "s" * 100},
        ["body", "state"],
    ),
    (
        "legacy-create-message",
        "POST",
        "/threads/",
        {"thread_id": "new", "initial_message": "x" * 51},
        ["body", "initial_message"],
    ),
    ("state-put", "PUT", T1 + "/state", {"state": {"big": "s" * 100}}, ["body", "state"]),
    ("legacy-put", "PUT", "/threads/t1", {"state": "s" * 100}, ["body", "state"]),
    (
        "patch-thread-metadata-merge",
        "PATCH",
        T1,
        {"metadata": {"b": "y" * 30}},  # small alone; with the 30 bytes of "a", too large
        ["body", "metadata"],
    ),
    ("patch-thread-title", "PATCH", T1, {"title": "t" * 21}, ["body", "title"]),
    (
        "batch-count",
        "POST",
        T1 + "/messages/batch",
        {"messages": [{"content": str(i)} for i in range(4)]},
        ["body", "messages"],
    ),
    (
        "batch-last-content",
        "POST",
        T1 + "/messages/batch",
        {"messages": [{"content": "a"}, {"content": "b"}, {"content": "x" * 51}]},
        ["body", "messages", 2, "content"],
    ),
    (
        "batch-last-images",
        "POST",
        T1 + "/messages/batch",
        {"messages": [{"content": "a"}, {"images": ["http://a/1", "http://a/2", "http://a/3"]}]},
        ["body", "messages", 1, "images"],
    ),
    (
        "batch-last-metadata",
        "POST",
        T1 + "/messages/batch",
        {"messages": [{"content": "a"}, {"content": "b"}, {"metadata": {"k": "v" * 60}}]},
        ["body", "messages", 2, "metadata"],
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "loc"),
    [case[1:] for case in LIMITED],
    ids=[case[0] for case in LIMITED],
)
async def test_each_limit_is_413_and_writes_nothing(
    api: httpx.AsyncClient,
    t1: dict[str, Any],
    method: str,
    path: str,
    body: Any,
    loc: list[str | int] | None,
) -> None:
    assert t1["message_count"] == 1
    before = await snapshot(api)
    assert len(json.dumps(body)) < BODY_LIMIT  # the field limit, not the body limit
    response = await api.request(method, path, json=body)
    problem = assert_problem(response, 413, "payload-too-large")
    assert len(problem["errors"]) == 1
    if loc is not None:
        assert problem["errors"][0]["loc"] == loc
    assert problem["errors"][0]["type"] == "too_large"
    assert await snapshot(api) == before
    # The thread-level resources were not created either.
    assert_problem(await api.get(THREADS + "/new"), 404, "not-found")


async def test_the_original_api_reports_its_own_field(api: httpx.AsyncClient) -> None:
    response = await api.post("/threads/", json={"thread_id": "new", "initial_message": "x" * 51})
    problem = assert_problem(response, 413, "payload-too-large")
    assert [error["loc"] for error in problem["errors"]] == [["body", "initial_message"]]


async def test_a_state_merge_patch_over_the_limit_writes_nothing(
    api: httpx.AsyncClient, t1: dict[str, Any]
) -> None:
    path = f"{THREADS}/{t1['id']}/state"
    headers = {"Content-Type": "application/merge-patch+json"}
    first = await api.patch(path, content=json.dumps({"a": "x" * 60}), headers=headers)
    assert first.status_code == 200, first.text
    version = first.json()["version"]
    before = await snapshot(api)
    # The patch alone is under the limit; the merged state is not.
    patch = json.dumps({"b": "y" * 60})
    assert len(patch) < 100
    response = await api.patch(path, content=patch, headers=headers)
    problem = assert_problem(response, 413, "payload-too-large")
    assert [error["loc"] for error in problem["errors"]] == [["body", "state"]]
    assert await snapshot(api) == before
    state = await api.get(path)
    assert state.json()["version"] == version
    assert state.headers["etag"] == f'"{version}"'
    # Removing a key in the same patch keeps it under the limit: then it is accepted.
    ok = await api.patch(path, content=json.dumps({"a": None, "b": "y" * 60}), headers=headers)
    assert ok.status_code == 200, ok.text
    assert ok.json()["state"] == {"b": "y" * 60}


async def test_limits_are_inclusive(api: httpx.AsyncClient, t1: dict[str, Any]) -> None:
    path = f"{THREADS}/{t1['id']}"
    message = {"content": "x" * 50, "images": ["http://a/1", "http://a/2"]}
    assert (await api.post(path + "/messages", json=message)).status_code == 201
    batch = {"messages": [{"content": "x" * 50}] * 3}
    assert (await api.post(path + "/messages/batch", json=batch)).status_code == 201
    state = {"state": "s" * 98}  # 100 bytes as JSON
    assert (await api.put(path + "/state", json=state)).status_code == 200
    metadata = {"k": "v" * 56}  # 64 bytes as JSON
    assert len(json.dumps(metadata, separators=(",", ":"))) == 64
    assert (await api.post(THREADS, json={"metadata": metadata})).status_code == 201
    thread = await api.get(path)
    assert thread.json()["message_count"] == 1 + 1 + 3
