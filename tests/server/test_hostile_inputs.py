"""Input no backend can store is a 4xx problem on every backend, and writes nothing.

Each case is sent to the app (in process) on SQLite, PostgreSQL and Redis; every answer must
be a 4xx ``application/problem+json`` whose ``errors`` name the field without echoing the bad
value, and reading everything back afterwards must find it exactly as before. The last tests
walk the OpenAPI document, so a route added later is covered without being listed here.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.fixtures.servers import LiveServer
from threadloom.validation import MAX_METADATA_FILTERS

pytestmark = pytest.mark.anyio

SPACE = "/v1/spaces/default"
THREADS = f"{SPACE}/threads"
T1 = f"{THREADS}/t1"
Case = tuple[str, str, dict[str, Any]]
NUL_ID = "t\x00"


def raw(text: str) -> dict[str, Any]:
    """A JSON body sent as written (NaN, escapes of lone surrogates, huge integers)."""
    return {"content": text.encode(), "headers": {"Content-Type": "application/json"}}


def cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).rstrip(b"=").decode()


def with_key(case: dict[str, Any], key: str = "hostile-1") -> dict[str, Any]:
    return {**case, "headers": {**case.get("headers", {}), "Idempotency-Key": key}}


BODIES: list[Case] = [
    ("POST", THREADS, raw('{"title": "a\\u0000b"}')),
    ("POST", THREADS, raw('{"title": "\\ud800"}')),
    ("POST", THREADS, raw('{"owner_id": "x\\udfff"}')),
    ("POST", THREADS, raw('{"id": "a\\u0000"}')),
    ("POST", THREADS, raw('{"metadata": {"a": {"b": [1, {"c": "x\\u0000"}]}}}')),
    ("POST", THREADS, raw('{"metadata": {"k\\u0000": 1}}')),
    ("POST", THREADS, raw('{"metadata": {"\\ud800": 1}}')),
    ("POST", THREADS, raw('{"metadata": {"n": 18446744073709551616}}')),
    ("POST", THREADS, with_key(raw('{"metadata": {"n": 18446744073709551616}}'))),
    ("POST", THREADS, with_key(raw('{"metadata": {"n": -9223372036854775809}}'), "hostile-2")),
    ("POST", THREADS, raw('{"metadata": {"n": NaN}}')),
    ("POST", THREADS, raw('{"state": {"x": Infinity}}')),
    ("POST", THREADS, raw('{"state": [-Infinity]}')),
    ("POST", THREADS, raw('{"state": 1e400}')),
    ("POST", THREADS, raw('{"state": {"big": 9223372036854775808}}')),
    ("POST", THREADS, raw('{"role_mapping": {"assistant": {"name": "\\ud800"}}}')),
    ("POST", THREADS, raw('{"state": ' + "[" * 100 + "]" * 100 + "}")),
    ("POST", f"{THREADS}/messages", raw('{"thread": {"title": "\\u0000"}, "message": {}}')),
    ("POST", f"{THREADS}/messages", raw('{"message": {"content": "\\ud800"}}')),
    ("POST", f"{T1}/messages", raw('{"content": "a\\u0000"}')),
    ("POST", f"{T1}/messages", raw('{"content": "\\udfff"}')),
    ("POST", f"{T1}/messages", raw('{"role": "us\\u0000er", "content": "x"}')),
    ("POST", f"{T1}/messages", raw('{"role": "\\ud800", "content": "x"}')),
    ("POST", f"{T1}/messages", raw('{"content": "x", "images": ["http://a/\\u0000"]}')),
    (
        "POST",
        f"{T1}/messages",
        with_key(raw('{"content": "x", "metadata": {"big": 99999999999999999999}}'), "hostile-3"),
    ),
    (
        "POST",
        f"{T1}/messages/batch",
        raw('{"messages": [{"content": "ok"}, {"content": "\\u0000"}]}'),
    ),
    (
        "POST",
        f"{T1}/messages/batch",
        raw('{"messages": [{"content": "ok"}, {"content": "x", "metadata": {"n": NaN}}]}'),
    ),
    ("PATCH", T1, raw('{"title": "\\ud800"}')),
    ("PATCH", T1, raw('{"owner_id": "\\u0000"}')),
    ("PATCH", T1, raw('{"metadata": {"k": "\\u0000"}}')),
    ("PATCH", T1, raw('{"metadata": {"k": Infinity}}')),
    ("PUT", f"{T1}/state", raw('{"state": {"deep": [[[["\\u0000"]]]]}}')),
    ("PUT", f"{T1}/state", raw('{"state": 9223372036854775808}')),
    ("PUT", f"{T1}/state", raw('{"state": NaN}')),
    ("PUT", f"{T1}/state", raw('{"state": {"status": "\\ud800"}}')),
    (
        "PATCH",
        f"{T1}/state",
        {
            "content": b'{"a": "\\u0000"}',
            "headers": {"Content-Type": "application/merge-patch+json"},
        },
    ),
    (
        "PATCH",
        f"{T1}/state",
        {
            "content": b'{"a": 99999999999999999999}',
            "headers": {"Content-Type": "application/merge-patch+json"},
        },
    ),
    ("POST", f"{T1}/chat", {"json": {"content": "hi", "images": ["x"]}}),
    ("POST", f"{T1}/chat", raw('{"content": "\\u0000"}')),
    ("POST", f"{T1}/chat", with_key(raw('{"content": "hi", "metadata": {"n": 1e999}}'), "h-4")),
    (
        "POST",
        f"{T1}/chat",
        with_key(raw('{"content": "hi", "metadata": {"n": 18446744073709551616}}'), "h-5"),
    ),
    ("POST", "/v1/spaces", raw('{"id": "s2", "name": "\\u0000"}')),
    ("PATCH", SPACE, raw('{"metadata": {"\\ud800": 1}}')),
    ("POST", f"{SPACE}/purge", raw('{"owner_id": "o\\u0000"}')),
    ("POST", f"{SPACE}/assistants", raw('{"name": "a\\u0000"}')),
    ("POST", f"{SPACE}/assistants", raw('{"name": "ok", "temperature": NaN}')),
    ("POST", "/v1/keys", raw('{"name": "\\ud800"}')),
    ("POST", "/threads/", raw('{"thread_id": "l1", "state": {"a": "\\u0000"}}')),
    ("PUT", "/threads/t1", raw('{"state": 18446744073709551616}')),
    ("POST", "/v1/rolethreads", raw('{"name": "\\u0000"}')),
    ("POST", "/v1/rolethreads/t1/msgs", raw('{"role": "user", "msg": "\\ud800"}')),
    ("POST", "/ask", raw('{"user_input": "\\u0000"}')),
]

_MANY = "&".join(f"metadata[k{i}]=v" for i in range(999))
QUERIES: list[Case] = [
    ("GET", f"{T1}/messages?after={cursor(2**63)}", {}),
    ("GET", f"{T1}/messages?before={cursor(-(2**63) - 1)}", {}),
    ("GET", f"{T1}/messages?after={cursor('x')}", {}),
    ("GET", f"{T1}/messages?after={cursor(1, 2)}", {}),
    ("GET", f"{T1}/messages?after={cursor(True)}", {}),
    ("GET", f"{T1}/messages?after=!!!not-base64", {}),
    ("GET", f"{T1}/messages?after=bm90IGpzb24", {}),  # base64 of "not json"
    ("GET", f"{T1}/messages?role=%00", {}),
    ("GET", f"{T1}/state/history?after={cursor(2**64)}", {}),
    ("GET", f"{T1}/state/history?before={cursor(1.5)}", {}),
    ("GET", f"{THREADS}?after={cursor('x', 'y')}", {}),
    ("GET", f"{THREADS}?before={cursor(1, 2)}", {}),
    ("GET", f"{THREADS}?after={cursor('2026-13-45T99:00:00.000000Z', 't1')}", {}),
    ("GET", f"{THREADS}?after={cursor('2026-01-01T00:00:00.000000Z', NUL_ID)}", {}),
    ("GET", f"{THREADS}?owner_id=%00", {}),
    ("GET", f"{THREADS}?title=a%00", {}),
    ("GET", f"{THREADS}?q=%00", {}),
    ("GET", f"{THREADS}?metadata[%00]=v", {}),
    ("GET", f"{THREADS}?metadata[k]=%00", {}),
    ("GET", f"{THREADS}?metadata[]=v", {}),
    ("GET", f'{THREADS}?metadata[a"b]=v', {}),
    ("GET", f"{THREADS}?metadata[{'k' * 200}]=v", {}),
    ("GET", f"{THREADS}?metadata[k]={'v' * 2000}", {}),
    ("GET", f"{THREADS}?{_MANY}", {}),
    ("GET", f"/v1/spaces?after={cursor(1)}", {}),
    ("GET", "/v1/spaces?before=%%%", {}),
    ("GET", f"{SPACE}/assistants?after={cursor('a', 'b')}", {}),
    ("GET", f"{T1}/context?assistant=%00", {}),
    ("GET", "/v1/rolethreads?owner_id=%00", {}),
    ("DELETE", "/v1/rolethreads/t1/roles?name=%00", {}),
]

HEADERS: list[Case] = [
    ("GET", f"{T1}/events", {"headers": {"Last-Event-ID": b"\xb2"}}),  # "²".isdigit()
    ("GET", f"{T1}/events", {"headers": {"Last-Event-ID": "99999999999999999999.e"}}),
    ("GET", f"{T1}/events", {"headers": {"Last-Event-ID": "-1.e"}}),
    ("GET", f"{T1}/events?last_event_id=%00", {}),
    ("GET", f"{SPACE}/events?last_event_id=%00", {}),
    ("PUT", f"{T1}/state", {"json": {"state": 1}, "headers": {"If-Match": b'"\xb2"'}}),
    (
        "PUT",
        f"{T1}/state",
        {"json": {"state": 1}, "headers": {"If-Match": '"99999999999999999999"'}},
    ),
    ("GET", T1, {"headers": {"X-API-Key": "tl_\x00"}}),
    ("POST", f"{T1}/messages", {"json": {"content": "x"}, "headers": {"Idempotency-Key": "a\x00"}}),
]


async def _snapshot(api: httpx.AsyncClient) -> Any:
    """Everything the cases could have written, read back."""

    async def read(path: str) -> Any:
        response = await api.get(path)
        assert response.status_code == 200, (path, response.text)
        return response.json()

    threads = await read(f"{THREADS}?status=all&limit=100")
    each = {}
    for thread in threads["data"]:
        path = f"{THREADS}/{thread['id']}"
        each[thread["id"]] = [
            await read(f"{path}/messages?include_private=true&limit=100"),
            await read(f"{path}/state"),
            await read(f"{path}/state/history?limit=100"),
        ]
    return [
        threads,
        each,
        await read("/v1/spaces?limit=100"),
        await read(f"{SPACE}/assistants?limit=100"),
        await read("/v1/keys"),
    ]


@pytest.fixture
async def seeded(api: httpx.AsyncClient) -> httpx.AsyncClient:
    created = await api.post(THREADS, json={"id": "t1", "title": "one", "metadata": {"k": "v"}})
    assert created.status_code == 201
    assert (await api.post(f"{T1}/messages", json={"content": "hello"})).status_code == 201
    assert (await api.put(f"{T1}/state", json={"state": {"step": 1}})).status_code == 200
    role = {"name": "bot", "user_id": "u", "user_name": "B", "icon": ""}
    assert (await api.post("/v1/rolethreads/t1/roles", json=role)).status_code < 300
    return api


def _assert_clean_problem(case: Case, response: httpx.Response) -> dict[str, Any]:
    method, path, _ = case
    where = f"{method} {path[:120]}"
    assert 400 <= response.status_code < 500, (where, response.status_code, response.text)
    assert response.headers["content-type"] == "application/problem+json", where
    problem: dict[str, Any] = response.json()
    assert problem["status"] == response.status_code
    assert problem["errors"], where
    for error in problem["errors"]:
        assert error["loc"], where
        assert all(isinstance(part, (str, int)) for part in error["loc"])
    # The bad values themselves are never echoed back.
    assert "\\u0000" not in response.text.replace("(\\\\u0000)", ""), where
    assert "\\ud" not in response.text.lower(), where
    return problem


async def _send_all(api: httpx.AsyncClient, cases: list[Case]) -> list[dict[str, Any]]:
    before = await _snapshot(api)
    problems = []
    for case in cases:
        method, path, kwargs = case
        problems.append(_assert_clean_problem(case, await api.request(method, path, **kwargs)))
    assert await _snapshot(api) == before
    return problems


async def test_bodies_that_cannot_be_stored_are_422(seeded: httpx.AsyncClient) -> None:
    problems = await _send_all(seeded, BODIES)
    assert [p["status"] for p in problems] == [422] * len(BODIES)
    types = {error["type"] for p in problems for error in p["errors"]}
    assert {
        "nul_character",
        "lone_surrogate",
        "int_out_of_range",
        "non_finite_number",
        "too_deep",
    } <= types


LOCATED: list[tuple[Case, list[str | int], str]] = [
    (
        ("POST", THREADS, raw('{"metadata": {"a": {"b": [1, {"c": "x\\u0000"}]}}}')),
        ["body", "metadata", "a", "b", 1, "c"],
        "nul_character",
    ),
    # A bad key is not named: it is the bad value.
    (
        ("POST", THREADS, raw('{"metadata": {"k\\u0000": 1}}')),
        ["body", "metadata"],
        "nul_character",
    ),
    (
        ("POST", THREADS, with_key(raw('{"metadata": {"n": 18446744073709551616}}'), "l-1")),
        ["body", "metadata", "n"],
        "int_out_of_range",
    ),
    (
        ("POST", f"{THREADS}/messages", raw('{"message": {"content": "\\ud800"}}')),
        ["body", "message", "content"],
        "lone_surrogate",
    ),
    (
        (
            "POST",
            f"{T1}/messages/batch",
            raw('{"messages": [{"content": "ok"}, {"metadata": {"n": NaN}}]}'),
        ),
        ["body", "messages", 1, "metadata", "n"],
        "non_finite_number",
    ),
    # The one rule on image URLs, on chat as on messages.
    (("POST", f"{T1}/chat", {"json": {"content": "hi", "images": ["x"]}}), ["body", "images"], ""),
    (("POST", f"{T1}/messages", {"json": {"images": ["x"]}}), ["body", "images"], ""),
    (("GET", f"{T1}/messages?after={cursor(2**63)}", {}), ["query", "after"], "cursor"),
    (("GET", f"{THREADS}?after={cursor('x', 'y')}", {}), ["query", "after"], "cursor"),
    (("GET", f"{T1}/messages?role=%00", {}), ["query", "role"], "nul_character"),
    (("GET", f"{THREADS}?metadata[%00]=v", {}), ["query"], "nul_character"),
    (("GET", f"{THREADS}?{'&'.join(['metadata[k]=v'] * 999)}", {}), ["query", "metadata"], ""),
    (
        ("GET", f"{T1}/events", {"headers": {"Last-Event-ID": b"\xb2"}}),
        ["header", "Last-Event-ID"],
        "",
    ),
    (("GET", T1, {"headers": {"X-API-Key": "tl_\x00"}}), ["header", "x-api-key"], "nul_character"),
]


@pytest.mark.parametrize(("case", "loc", "kind"), LOCATED, ids=[c[0][1][-40:] for c in LOCATED])
async def test_a_bad_value_is_located_exactly(
    seeded: httpx.AsyncClient, case: Case, loc: list[str | int], kind: str
) -> None:
    method, path, kwargs = case
    problem = _assert_clean_problem(case, await seeded.request(method, path, **kwargs))
    assert problem["status"] == 422
    error = problem["errors"][0]
    assert error["loc"] == loc, problem
    if kind:
        assert error["type"] == kind, problem


async def test_bad_queries_and_cursors_are_422(seeded: httpx.AsyncClient) -> None:
    problems = await _send_all(seeded, QUERIES)
    assert [p["status"] for p in problems] == [422] * len(QUERIES)
    too_many = problems[QUERIES.index(("GET", f"{THREADS}?{_MANY}", {}))]
    assert f"at most {MAX_METADATA_FILTERS}" in too_many["detail"]


async def test_bad_headers_are_422(seeded: httpx.AsyncClient) -> None:
    problems = await _send_all(seeded, HEADERS)
    assert [p["status"] for p in problems] == [422] * len(HEADERS)


async def test_the_limit_of_filters_is_allowed(seeded: httpx.AsyncClient) -> None:
    query = "&".join(f"metadata[k{i}]=v" for i in range(MAX_METADATA_FILTERS - 1))
    response = await seeded.get(f"{THREADS}?metadata[k]=v&{query}")
    assert response.status_code == 200
    assert response.json()["data"] == []


async def test_values_at_the_edges_are_stored(seeded: httpx.AsyncClient) -> None:
    """The rules refuse only what cannot be stored: the extremes that can are kept."""
    metadata = {
        "max": 2**63 - 1,
        "min": -(2**63),
        "f": 1.5e300,
        "text": "é\u2028😀",
        "k\u00e9": True,
    }
    response = await seeded.post(f"{T1}/messages", json={"content": "😀", "metadata": metadata})
    assert response.status_code == 201, response.text
    page = (await seeded.get(f"{T1}/messages?order=desc&limit=1")).json()
    assert page["data"][0]["metadata"] == metadata

    # The cursors this backend writes pass the cursor rules (a thread's holds a timestamp).
    assert (await seeded.post(THREADS, json={"id": "t2"})).status_code == 201
    first = (await seeded.get(f"{THREADS}?limit=1")).json()
    rest = await seeded.get(f"{THREADS}?limit=1&after={first['last_id']}")
    assert rest.status_code == 200, rest.text
    assert [t["id"] for t in first["data"] + rest.json()["data"]] == ["t2", "t1"]
    back = await seeded.get(f"{THREADS}?limit=1&before={rest.json()['first_id']}")
    assert [t["id"] for t in back.json()["data"]] == ["t2"]
    older = await seeded.get(f"{T1}/messages?limit=1&after={page['last_id']}&order=desc")
    assert [m["content"] for m in older.json()["data"]] == ["hello"]


# Every route, found in the OpenAPI document ------------------------------------------------

_PATH_VALUES = {
    "space_id": "default",
    "thread_id": "t1",
    "session_id": "t1",
    "assistant_id": "a1",
    "message_id": "m1",
    "key_id": "k1",
}
_NO_STORE = {"/healthz", "/readyz", "/", "/metrics"}


def _operations(openapi: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for template, item in openapi["paths"].items():
        if template in _NO_STORE:
            continue
        path = template.format(**_PATH_VALUES)
        for method, operation in item.items():
            found.append((method.upper(), path, operation))
    return found


async def test_every_route_refuses_a_nul_in_the_query(seeded: httpx.AsyncClient) -> None:
    openapi = (await seeded.get("/openapi.json")).json()
    operations = _operations(openapi)
    assert len(operations) > 40
    before = await _snapshot(seeded)
    for method, path, _ in operations:
        case: Case = (method, f"{path}?probe=%00", {})
        problem = _assert_clean_problem(case, await seeded.request(method, f"{path}?probe=%00"))
        assert problem["errors"][0] == {
            "loc": ["query", "probe"],
            "msg": problem["errors"][0]["msg"],
            "type": "nul_character",
        }, case
    assert await _snapshot(seeded) == before


async def test_every_body_refuses_what_cannot_be_stored(seeded: httpx.AsyncClient) -> None:
    openapi = (await seeded.get("/openapi.json")).json()
    with_body = [op for op in _operations(openapi) if "requestBody" in op[2]]
    assert len(with_body) > 15
    before = await _snapshot(seeded)
    for method, path, operation in with_body:
        media = next(iter(operation["requestBody"]["content"]))
        for body, kind in (
            (b'{"probe": "\\u0000"}', "nul_character"),
            (b'{"probe": ["\\ud800"]}', "lone_surrogate"),
            (b'{"probe": NaN}', "non_finite_number"),
            (b'{"probe": 99999999999999999999}', "int_out_of_range"),
        ):
            case = (method, path, {"content": body})
            response = await seeded.request(
                method, path, content=body, headers={"Content-Type": media}
            )
            problem = _assert_clean_problem(case, response)
            assert problem["status"] == 422, (case, problem)
            assert problem["errors"][0]["type"] == kind, (case, problem)
            assert problem["errors"][0]["loc"][:2] == ["body", "probe"], (case, problem)
    assert await _snapshot(seeded) == before


# Over real HTTP -----------------------------------------------------------------------------


@pytest.mark.postgres
def test_over_http_the_bytes_a_client_can_send_are_refused(
    postgres_url: str, live_servers: Callable[..., LiveServer]
) -> None:
    """What reaches the app through a real HTTP parser: a latin-1 header byte ("²"), a
    percent-encoded NUL, a JSON escape, on the backend that used to answer 500."""
    server = live_servers(postgres_url)
    with httpx.Client(base_url=server.url, timeout=10) as http:
        assert http.post(THREADS, json={"id": "t1"}).status_code == 201
        answers = [
            http.get(f"{T1}/events", headers={b"Last-Event-ID": b"\xb2"}),
            http.get(f"{THREADS}?metadata[%00]=v"),
            http.get(f"{THREADS}?owner_id=a%00"),
            http.post(f"{T1}/messages", **raw('{"content": "\\u0000"}')),
            http.post(
                THREADS,
                **with_key(raw('{"metadata": {"n": 18446744073709551616}}'), "http-1"),
            ),
        ]
        messages = http.get(f"{T1}/messages").json()["data"]
        threads = http.get(THREADS).json()["data"]
    for answer in answers:
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["errors"][0]["loc"]
    assert messages == []
    assert [thread["id"] for thread in threads] == ["t1"]
    assert "Traceback" not in server.log()
