"""Private messages, route by route: every operation of the OpenAPI document is called with
a reader, a writer and an admin key on a thread that holds a private message, and what each
response carries is compared with the rule of ``threadloom.core.privacy``.

Path parameters are real ids (a DELETE gets ids that do not exist, so the walk destroys
nothing), ``include_private=true`` is tried wherever a route takes it, and event streams
are read, live and replayed, until a public sentinel posted after a private message arrives.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI

from tests.fixtures.app import services_of
from tests.server.asgi_calls import Reply, call

pytestmark = pytest.mark.anyio

SPACE = "default"
THREAD = "t1"
MISSING = "gone"

# Where a key that may see private messages is shown the stored one. Everything else that
# answers returns no message content, or (the session history) never private messages.
SHOWN_TO_WRITERS = frozenset(
    {
        "GET /v1/spaces/{space_id}/threads/{thread_id}/messages include_private=true",
        "GET /v1/spaces/{space_id}/threads/{thread_id}/context",
        "GET /v1/rolethreads",
        "GET /v1/rolethreads/{thread_id}",
        "PUT /v1/rolethreads/{thread_id}",
        "GET /v1/spaces/{space_id}/threads/{thread_id}/events",
        "GET /v1/spaces/{space_id}/threads/{thread_id}/events Last-Event-ID",
        "GET /v1/spaces/{space_id}/events",
        "GET /v1/spaces/{space_id}/events Last-Event-ID",
        "GET /v1/spaces/{space_id}/threads/{thread_id}/messages/{message_id}",
    }
)
PRIVATE_MESSAGE = "private-message"

# Where a reader is shown the thread's public messages (so the walk did read them).
SHOWN_TO_READERS = frozenset(
    {
        "GET /v1/spaces/{space_id}/threads/{thread_id}/messages",
        "GET /v1/spaces/{space_id}/threads/{thread_id}/context",
        "GET /v1/rolethreads",
        "GET /v1/rolethreads/{thread_id}",
        "GET /session/{session_id}/history",
        "GET /v1/spaces/{space_id}/threads/{thread_id}/events",
        "GET /v1/spaces/{space_id}/threads/{thread_id}/events Last-Event-ID",
        "GET /v1/spaces/{space_id}/events",
        "GET /v1/spaces/{space_id}/events Last-Event-ID",
    }
)

BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/spaces/{space_id}/threads/{thread_id}/messages"): {
        "role": "user",
        "content": "walk",
    },
    ("POST", "/v1/spaces/{space_id}/threads/{thread_id}/messages/batch"): {
        "messages": [{"role": "user", "content": "walk"}]
    },
    ("POST", "/v1/spaces/{space_id}/threads/{thread_id}/chat"): {
        "content": "walk",
        "stream": True,
    },
    ("POST", "/v1/spaces/{space_id}/purge"): {"owner_id": "nobody"},
    ("PUT", "/v1/rolethreads/{thread_id}"): {"public": False},
    ("POST", "/v1/rolethreads/{thread_id}/msgs"): {"role": "user", "msg": "walk"},
    ("POST", "/v1/rolethreads/{thread_id}/roles"): {
        "name": "bot",
        "user_id": "u1",
        "user_name": "Bot",
        "icon": "https://example.com/bot.png",
    },
    ("POST", "/ask"): {"session_id": THREAD, "user_input": "walk"},
    ("POST", "/chat"): {"session_id": THREAD, "message": "walk"},
}
REQUIRED_QUERY = {"name": "nobody"}


@dataclass
class World:
    keys: dict[str, str]
    marker: str
    """In every private message, and nowhere else."""
    public: str
    """In every public message the thread starts with."""
    space_event_id: str
    """An event of the space stream before a private message, to resume from."""
    pokes: int = 0


def _headers(key: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {"x-api-key": key, "content-type": "application/json", **(extra or {})}


async def _post(app: FastAPI, key: str, path: str, body: dict[str, Any]) -> Reply:
    reply = await call(app, "POST", path, headers=_headers(key), body=json.dumps(body).encode())
    assert reply.status == 201, reply.body
    return reply


def _next_sentinel(world: World) -> bytes:
    return f"sentinel-{world.pokes + 1}-{world.public}".encode()


async def _poke(app: FastAPI, world: World) -> None:
    """Post a public message, a private one and a public sentinel (``_next_sentinel``)."""
    sentinel = _next_sentinel(world).decode()
    world.pokes += 1
    path = f"/v1/spaces/{SPACE}/threads/{THREAD}/messages"
    writer = world.keys["writer"]
    await _post(app, writer, path, {"role": "user", "content": f"{world.public} live"})
    await _post(app, writer, path, {"role": "user", "content": world.marker, "private": True})
    await _post(app, writer, path, {"role": "user", "content": sentinel})


@pytest.fixture
async def world(app: FastAPI) -> World:
    services = services_of(app)
    admin, _ = await services.keys.create("admin", None, "admin")
    writer, _ = await services.keys.create("writer", SPACE, "writer")
    reader, _ = await services.keys.create("reader", SPACE, "reader")
    tag = uuid.uuid4().hex
    world = World(
        keys={"admin": admin, "writer": writer, "reader": reader},
        marker=f"PRIVATE{tag}",
        public=f"PUBLIC{tag}",
        space_event_id="",
    )
    await _post(app, writer, f"/v1/spaces/{SPACE}/threads", {"id": THREAD, "title": "walk"})
    await _post(
        app,
        writer,
        f"/v1/spaces/{SPACE}/threads/{THREAD}/messages/batch",
        {
            "messages": [
                {"role": "user", "content": world.public},
                {
                    "id": PRIVATE_MESSAGE,
                    "role": "assistant",
                    "content": world.marker,
                    "private": True,
                },
                {"role": "user", "content": f"{world.public} again"},
            ]
        },
    )
    sentinel = _next_sentinel(world)

    async def poke() -> None:
        await _poke(app, world)

    stream = await call(
        app,
        "GET",
        f"/v1/spaces/{SPACE}/events",
        headers=_headers(admin),
        after_start=poke,
        stop_at=sentinel,
    )
    assert sentinel in stream.body, stream.body
    first_id = re.search(rb"^id: ?(\S+)", stream.body, re.MULTILINE)
    assert first_id is not None, stream.body
    world.space_event_id = first_id.group(1).decode()
    return world


def _url(path: str, method: str) -> str:
    """Real ids, except for a DELETE, whose ids do not exist (the walk destroys nothing)."""
    real = {
        "space_id": SPACE,
        "thread_id": THREAD,
        "session_id": THREAD,
        "message_id": PRIVATE_MESSAGE,  # a route of one message is asked for the private one
    }
    values = {} if method == "DELETE" else real
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), MISSING), path)


def _variants(path: str, operation: dict[str, Any], world: World) -> list[tuple[str, Any]]:
    """(label suffix, (query, headers)) of each request to make to an operation."""
    params = operation.get("parameters", [])
    query = {
        p["name"]: REQUIRED_QUERY[p["name"]]
        for p in params
        if p["in"] == "query" and p.get("required")
    }
    names = {p["name"] for p in params}
    variants: list[tuple[str, Any]] = [("", (query, {}))]
    if "include_private" in names:
        variants.append((" include_private=true", ({**query, "include_private": "true"}, {})))
    if "Last-Event-ID" in names:
        resume = "0." if "{thread_id}" in path else world.space_event_id
        variants.append((" Last-Event-ID", (query, {"last-event-id": resume})))
    return variants


async def _walk(app: FastAPI, world: World, role: str) -> dict[str, Reply]:
    """Every operation (and variant) called with ``role``'s key: label → reply."""
    replies: dict[str, Reply] = {}
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            method = method.upper()
            url = _url(path, method)
            streams = "text/event-stream" in operation["responses"].get("200", {}).get(
                "content", {}
            )
            endless = path.endswith("/events")
            for suffix, (query, extra) in _variants(path, operation, world):
                body = b""
                if "requestBody" in operation:
                    body = json.dumps(BODIES.get((method, path), {})).encode()
                headers = _headers(world.keys[role], extra)
                if streams:
                    headers["accept"] = "text/event-stream"
                sentinel = _next_sentinel(world) if endless else None

                async def poke() -> None:
                    await _poke(app, world)

                reply = await call(
                    app,
                    method,
                    url,
                    params=query,
                    headers=headers,
                    body=body,
                    after_start=poke if endless else None,
                    stop_at=sentinel,
                )
                if endless and reply.status == 200:
                    # Read until the sentinel posted after the private message arrived.
                    assert sentinel is not None
                    assert sentinel in reply.body, f"{method} {path}{suffix}"
                replies[f"{method} {path}{suffix}"] = reply
    return replies


@pytest.mark.parametrize("role", ["reader", "writer", "admin"])
async def test_private_messages_reach_only_the_keys_that_may_see_them(
    app: FastAPI, world: World, role: str
) -> None:
    replies = await _walk(app, world, role)
    marker, public = world.marker.encode(), world.public.encode()
    with_marker = {label for label, reply in replies.items() if marker in reply.body}
    with_public = {label for label, reply in replies.items() if public in reply.body}
    failed = {label: r.status for label, r in replies.items() if r.status >= 500}
    assert failed == {}
    if role == "reader":
        assert with_marker == set()
        assert SHOWN_TO_READERS <= with_public
        asked = replies[
            "GET /v1/spaces/{space_id}/threads/{thread_id}/messages include_private=true"
        ]
        assert asked.status == 403
    else:
        assert with_marker == SHOWN_TO_WRITERS
        assert SHOWN_TO_READERS <= with_public


async def test_a_readers_context_leaves_private_messages_out_and_counts_what_it_shows(
    app: FastAPI, world: World
) -> None:
    path = f"/v1/spaces/{SPACE}/threads/{THREAD}/context"
    shown = {}
    for role in ("reader", "writer"):
        reply = await call(app, "GET", path, headers=_headers(world.keys[role]))
        assert reply.status == 200, reply.body
        shown[role] = json.loads(reply.body)
    reader, writer = shown["reader"], shown["writer"]
    assert [m["content"] for m in writer["messages"]].count(world.marker) == 2
    assert [m for m in writer["messages"] if m["content"] != world.marker] == reader["messages"]
    assert reader["tokens"] < writer["tokens"]
    assert reader["truncated"] == writer["truncated"]
