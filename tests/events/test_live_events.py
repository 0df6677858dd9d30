"""Event streams over real HTTP: one process, and two processes fanned out through Redis."""

from __future__ import annotations

import socket
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
import pytest

from tests.events.conftest import EventReader
from tests.fixtures.servers import LiveServer

pytestmark = pytest.mark.server

StartServer = Callable[..., LiveServer]


def _thread(server: LiveServer, thread_id: str) -> str:
    response = httpx.post(server.url + "/v1/spaces/default/threads", json={"id": thread_id})
    assert response.status_code == 201, response.text
    return f"{server.url}/v1/spaces/default/threads/{thread_id}"


def _post(thread_url: str, content: str) -> None:
    response = httpx.post(thread_url + "/messages", json={"role": "user", "content": content})
    assert response.status_code == 201, response.text


def test_a_thread_stream_carries_messages_state_and_chat(
    live_servers: StartServer, sqlite_url: str, readers: list[EventReader]
) -> None:
    server = live_servers(sqlite_url)
    thread_url = _thread(server, "t1")
    reader = EventReader(thread_url + "/events").start()
    readers.append(reader)
    assert reader.status == 200
    _post(thread_url, "hello")
    assert httpx.put(thread_url + "/state", json={"state": {"step": 1}}).status_code == 200
    assert httpx.patch(thread_url, json={"title": "renamed"}).status_code == 200
    chat = httpx.post(thread_url + "/chat", json={"content": "hi"})
    assert chat.status_code == 201
    first = reader.take(3)
    assert [event.event for event in first] == [
        "message.created",
        "state.updated",
        "thread.updated",
    ]
    assert first[0].data["data"]["content"] == "hello"
    assert first[0].data["thread_id"] == "t1"
    assert first[0].id is not None
    assert first[0].id.startswith("1.evt_")
    assert first[1].data["data"]["state"] == {"step": 1}
    assert first[2].data["data"]["title"] == "renamed"
    rest = reader.take(1, kinds=("chat.done",))
    assert rest[0].data["data"]["id"] == chat.json()["id"]


def test_a_space_stream_carries_every_thread(
    live_servers: StartServer, sqlite_url: str, readers: list[EventReader]
) -> None:
    server = live_servers(sqlite_url)
    reader = EventReader(server.url + "/v1/spaces/default/events").start()
    readers.append(reader)
    one, two = _thread(server, "a"), _thread(server, "b")
    _post(one, "in a")
    _post(two, "in b")
    got = reader.take(2, kinds=("message.created",))
    assert [(event.data["thread_id"], event.data["data"]["content"]) for event in got] == [
        ("a", "in a"),
        ("b", "in b"),
    ]
    created = reader.take(0)
    assert created == []
    missing = httpx.get(server.url + "/v1/spaces/nope/events")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


def test_messages_posted_through_another_process_arrive_in_order_exactly_once(
    live_servers: StartServer,
    database_url: str,
    redis_events_env: dict[str, str],
    readers: list[EventReader],
) -> None:
    subscribed_to = live_servers(database_url, env=redis_events_env)
    posted_to = live_servers(database_url, env=redis_events_env)
    thread_url = _thread(posted_to, "shared")
    reader_url = thread_url.replace(posted_to.url, subscribed_to.url) + "/events"
    reader = EventReader(reader_url).start()
    readers.append(reader)
    for n in range(40):
        _post(thread_url, f"m{n}")
    got = reader.take(40, kinds=("message.created",))
    assert [event.data["data"]["content"] for event in got] == [f"m{n}" for n in range(40)]
    assert [event.data["data"]["seq"] for event in got] == list(range(1, 41))
    assert reader.events.empty()


def test_reconnecting_with_last_event_id_misses_nothing(
    live_servers: StartServer,
    database_url: str,
    redis_events_env: dict[str, str],
    readers: list[EventReader],
) -> None:
    first = live_servers(database_url, env=redis_events_env)
    second = live_servers(database_url, env=redis_events_env)
    thread_url = _thread(first, "resume")
    reader = EventReader(thread_url + "/events").start()
    readers.append(reader)
    for n in range(5):
        _post(thread_url, f"before {n}")
    seen = reader.take(3, kinds=("message.created",))
    reader.close()
    last_id = seen[-1].id
    assert last_id is not None
    # While nobody listens: more messages, and a state change, through the other process.
    for n in range(5):
        _post(thread_url.replace(first.url, second.url), f"while away {n}")
    assert httpx.put(thread_url + "/state", json={"state": "s"}).status_code == 200
    # Reconnect to the other process.
    again = EventReader(
        thread_url.replace(first.url, second.url) + "/events",
        headers={"Last-Event-ID": last_id},
    ).start()
    readers.append(again)
    got = again.take(7, kinds=("message.created",))
    assert [event.data["data"]["content"] for event in got] == [
        "before 3",
        "before 4",
        *[f"while away {n}" for n in range(5)],
    ]
    assert again.take(1, kinds=("state.updated",))[0].data["data"]["state"] == "s"
    _post(thread_url, "after")
    assert again.take(1, kinds=("message.created",))[0].data["data"]["content"] == "after"


def test_a_stalled_subscriber_is_dropped_without_hurting_writers(
    live_servers: StartServer, sqlite_url: str
) -> None:
    server = live_servers(sqlite_url, env={"THREADLOOM_EVENTS_QUEUE_SIZE": "20"})
    thread_url = _thread(server, "busy")
    # A client that opens the stream and then reads nothing.
    parts = urlsplit(thread_url)
    stalled = socket.create_connection((parts.hostname, parts.port))
    request = (
        f"GET {parts.path}/events HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n"
    )
    stalled.sendall(request.encode())
    try:
        with httpx.Client(base_url=thread_url) as client:
            body = "x" * 50_000  # 20 MB in all: more than the socket buffers hold
            for n in range(400):
                response = client.post("/messages", json={"content": f"{n} {body}"})
                assert response.status_code == 201
        # The server is still healthy for everyone else.
        assert httpx.get(server.url + "/readyz").status_code == 200
        # The stalled client, once it reads, finds it was told and disconnected.
        stalled.settimeout(30)
        received = b""
        while chunk := stalled.recv(65536):
            received += chunk
        assert b"event: lagged" in received
        assert received.count(b"event: message.created") < 400
    finally:
        stalled.close()


def test_a_purge_by_owner_reaches_the_space_stream_of_another_process(
    live_servers: StartServer,
    database_url: str,
    redis_events_env: dict[str, str],
    readers: list[EventReader],
) -> None:
    """One ``threads.purged`` event, through Redis, that a resumed stream replays too."""
    purged_on = live_servers(database_url, env=redis_events_env)
    watched = live_servers(database_url, env=redis_events_env)
    space_url = watched.url + "/v1/spaces/default"
    reader = EventReader(space_url + "/events").start()
    readers.append(reader)
    for thread_id, owner in (("a", "o1"), ("b", "o2"), ("c", "o1")):
        created = httpx.post(
            purged_on.url + "/v1/spaces/default/threads", json={"id": thread_id, "owner_id": owner}
        )
        assert created.status_code == 201, created.text
    before = reader.take(3, kinds=("thread.created",))[-1]
    kept = EventReader(space_url + "/threads/b/events").start()
    readers.append(kept)

    purge = purged_on.url + "/v1/spaces/default/purge"
    assert httpx.post(purge, json={"owner_id": "o1"}).json()["deleted"] == 2
    assert httpx.post(purge, json={"owner_id": "o1"}).json()["deleted"] == 0
    _post(f"{purged_on.url}/v1/spaces/default/threads/b", "still here")

    purged, after = reader.take(2)
    assert purged.event == "threads.purged"
    assert purged.data == {
        "type": "threads.purged",
        "thread_id": None,
        "data": {"owner_id": "o1", "count": 2},
    }
    assert purged.id is not None
    assert purged.id.startswith("evt_")
    assert after.event == "message.created"  # the empty purge sent nothing
    # A thread's stream carries its own events only.
    assert [event.event for event in kept.take(1)] == ["message.created"]
    # Resuming from before the purge replays it.
    resumed = EventReader(space_url + "/events", headers={"Last-Event-ID": str(before.id)})
    readers.append(resumed.start())
    assert [event.event for event in resumed.take(2)] == ["threads.purged", "message.created"]
    assert httpx.get(space_url + "/threads", params={"owner_id": "o1"}).json()["data"] == []
