"""seeds/000, the thread state API, against a live server on SQLite and PostgreSQL: the
design's httpx example run as written, and its documented JSON bodies and response.

Its Dockerfile, compose file, entrypoint and database set-up are checked by
tests/test_deploy_files.py (no container engine runs here).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

import httpx
import pytest

from tests.seeds import designs
from tests.seeds.conftest import SQL_BACKENDS, SeedServer, assert_shape, run_snippet, serve

pytestmark = pytest.mark.server


@pytest.fixture(scope="module", params=SQL_BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SeedServer]:
    with serve(request, tmp_path_factory) as live:
        yield live


def native_thread(server: SeedServer, thread_id: str) -> dict[str, object]:
    response = httpx.get(f"{server.url}/v1/spaces/default/threads/{thread_id}", timeout=10)
    assert response.status_code == 200, response.text
    thread: dict[str, object] = response.json()
    return thread


def test_the_example_creates_updates_and_reads_a_thread(server: SeedServer) -> None:
    printed = run_snippet(designs.STATE_EXAMPLE, {designs.STATE_HOST: server.url})

    assert len(printed) == 3, printed
    created, updated, read = (ast.literal_eval(line) for line in printed)
    # The example creates with an initial message and no state (which the spec's create
    # body requires): the thread has no state yet, so "state" is null, not a string.
    assert created == {"thread_id": "thread1", "state": None}
    for answer in (updated, read):
        assert_shape(answer, designs.STATE_GET_RESPONSE)
    # Its PUT sends no thread_id: the URL names the thread.
    assert updated == {"thread_id": "thread1", "state": "active"}
    assert read == {"thread_id": "thread1", "state": "active"}

    response = httpx.get(f"{server.url}/v1/spaces/default/threads/thread1/messages", timeout=10)
    assert response.status_code == 200
    [message] = response.json()["data"]
    assert (message["role"], message["content"], message["seq"]) == ("user", "Hello, world!", 1)
    assert native_thread(server, "thread1")["state"] == "active"


def test_the_documented_bodies_create_read_and_update_a_thread(server: SeedServer) -> None:
    base = server.url
    # The create body as documented: its thread_id "string" is a valid id.
    created = httpx.post(f"{base}/threads/", json=designs.STATE_CREATE_BODY, timeout=10)
    assert created.status_code == 200, created.text
    assert created.json() == designs.STATE_CREATE_BODY
    thread_id = designs.STATE_CREATE_BODY["thread_id"]

    read = httpx.get(f"{base}/threads/{thread_id}", timeout=10)
    assert read.status_code == 200, read.text
    assert_shape(read.json(), designs.STATE_GET_RESPONSE)
    assert read.json() == designs.STATE_GET_RESPONSE
    version = native_thread(server, thread_id)["state_version"]
    assert version == 1

    updated = httpx.put(f"{base}/threads/{thread_id}", json=designs.STATE_UPDATE_BODY, timeout=10)
    assert updated.status_code == 200, updated.text
    assert updated.json() == {"thread_id": "string", "state": "string"}
    # The same value again, but written: one more version.
    assert native_thread(server, thread_id)["state_version"] == 2
    assert httpx.get(f"{base}/threads/{thread_id}", timeout=10).json() == (
        designs.STATE_GET_RESPONSE
    )
