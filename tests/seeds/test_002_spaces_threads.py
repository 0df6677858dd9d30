"""seeds/002, spaces -> threads -> messages, against a live server on SQLite and PostgreSQL:
each of its curl commands run as written, with a real space, real threads and real keys (a
reader key where the example reads, a writer key where it writes), and its considerations
(authentication, idempotency, errors, pagination).

The server requires keys: the module's admin key is made through the API while the server
is still open, then the space and, for each test, keys of their own. Each test has its own
writer key, so the design's ``Idempotency-Key: unique_key`` is sent as written by every
example without one example's key replaying another's answer (keys are scoped to the API key).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.seeds import designs
from tests.seeds.conftest import (
    SQL_BACKENDS,
    CurlAnswer,
    SeedServer,
    create_key,
    run_curl,
    serve,
)

pytestmark = pytest.mark.server

SPACE = "seeds-002"


@dataclass(frozen=True)
class Deployment:
    server: SeedServer
    admin_key: str
    space_id: str

    def key(self, role: str) -> str:
        """A new key of ``role`` for the space."""
        return create_key(self.server, self.admin_key, role=role, space_id=self.space_id)

    def create_thread(self, writer: str, **body: Any) -> dict[str, Any]:
        response = httpx.post(
            f"{self.server.url}/v1/spaces/{self.space_id}/threads",
            json=body,
            headers={"X-API-Key": writer},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        thread: dict[str, Any] = response.json()
        return thread

    def get(self, path: str, key: str, **params: Any) -> Any:
        response = httpx.get(
            f"{self.server.url}/v1/spaces/{self.space_id}{path}",
            params=params,
            headers={"X-API-Key": key},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def curl(self, command: str, key: str, thread_id: str | None = None) -> CurlAnswer:
        replacements = {
            designs.SPACES_HOST: self.server.url,
            "{space_id}": self.space_id,
            "your_api_key": key,
        }
        if thread_id is not None:
            replacements["{thread_id}"] = thread_id
        return run_curl(command, replacements)


@pytest.fixture(scope="module", params=SQL_BACKENDS)
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    # Keys are looked up on every request, so the first key turns authentication on at once.
    with serve(request, tmp_path_factory, env={"THREADLOOM_KEY_CACHE_SECONDS": "0"}) as live:
        admin = create_key(live, None, role="admin")
        space = httpx.post(
            f"{live.url}/v1/spaces",
            json={"id": SPACE, "name": "Seeds"},
            headers={"X-API-Key": admin},
            timeout=10,
        )
        assert space.status_code == 201, space.text
        yield Deployment(live, admin, SPACE)


def assert_json_page(answer: CurlAnswer) -> list[dict[str, Any]]:
    assert answer.status == 200, answer.body
    assert answer.headers["content-type"].startswith("application/json")
    page = answer.json()
    assert page["object"] == "list"
    assert isinstance(page["has_more"], bool)
    data: list[dict[str, Any]] = page["data"]
    return data


class TestThreads:
    def test_list_threads_as_written(self, deployment: Deployment) -> None:
        writer = deployment.key("writer")
        made = [deployment.create_thread(writer, title=f"Listed {i}") for i in range(2)]
        answer = deployment.curl(designs.LIST_THREADS_CURL, deployment.key("reader"))

        listed = assert_json_page(answer)

        by_id = {thread["id"]: thread for thread in listed}
        for thread in made:
            assert by_id[thread["id"]]["title"] == thread["title"]
            assert by_id[thread["id"]]["space_id"] == SPACE
            assert by_id[thread["id"]]["status"] == "active"

    def test_get_thread_as_written(self, deployment: Deployment) -> None:
        writer = deployment.key("writer")
        made = deployment.create_thread(writer, title="Details", metadata={"topic": "billing"})

        answer = deployment.curl(designs.GET_THREAD_CURL, deployment.key("reader"), made["id"])

        assert answer.status == 200, answer.body
        thread = answer.json()
        assert thread["id"] == made["id"]
        assert thread["title"] == "Details"
        assert thread["metadata"] == {"topic": "billing"}
        assert thread["status"] == "active"
        assert thread["message_count"] == 0

    def test_patch_thread_as_written(self, deployment: Deployment) -> None:
        writer = deployment.key("writer")
        made = deployment.create_thread(writer, title="Before")

        answer = deployment.curl(designs.PATCH_THREAD_CURL, writer, made["id"])

        assert answer.status == 200, answer.body
        assert answer.json()["id"] == made["id"]
        assert answer.json()["title"] == "Updated Thread Title"
        assert deployment.get(f"/threads/{made['id']}", writer)["title"] == "Updated Thread Title"

    def test_archive_thread_as_written_is_reversible(self, deployment: Deployment) -> None:
        writer = deployment.key("writer")
        made = deployment.create_thread(writer, title="To archive")

        answer = deployment.curl(designs.ARCHIVE_THREAD_CURL, writer, made["id"])

        assert answer.status == 200, answer.body
        assert answer.json()["status"] == "archived"
        assert answer.json()["archived_at"] is not None
        # Inactive: out of the default listing, still readable, and restored on request.
        assert deployment.get(f"/threads/{made['id']}", writer)["status"] == "archived"
        active = deployment.get("/threads", writer, limit=100)["data"]
        assert made["id"] not in {thread["id"] for thread in active}
        restored = httpx.post(
            f"{deployment.server.url}/v1/spaces/{SPACE}/threads/{made['id']}/restore",
            headers={"X-API-Key": writer},
            timeout=10,
        )
        assert restored.status_code == 200, restored.text
        assert restored.json()["status"] == "active"
        assert restored.json()["archived_at"] is None


class TestMessages:
    def test_list_messages_as_written(self, deployment: Deployment) -> None:
        writer = deployment.key("writer")
        thread = deployment.create_thread(writer, title="Conversation")
        for role, content in (("user", "Hi"), ("assistant", "Hello! How can I help?")):
            response = httpx.post(
                f"{deployment.server.url}/v1/spaces/{SPACE}/threads/{thread['id']}/messages",
                json={"role": role, "content": content},
                headers={"X-API-Key": writer},
                timeout=10,
            )
            assert response.status_code == 201, response.text

        answer = deployment.curl(designs.LIST_MESSAGES_CURL, deployment.key("reader"), thread["id"])

        messages = assert_json_page(answer)
        assert [(m["seq"], m["role"], m["content"]) for m in messages] == [
            (1, "user", "Hi"),
            (2, "assistant", "Hello! How can I help?"),
        ]
        assert {m["thread_id"] for m in messages} == {thread["id"]}

    def test_create_message_as_written_is_idempotent(self, deployment: Deployment) -> None:
        writer = deployment.key("writer")
        thread = deployment.create_thread(writer, title="Idempotent")

        first = deployment.curl(designs.CREATE_MESSAGE_CURL, writer, thread["id"])

        assert first.status == 201, first.body
        message = first.json()
        assert (message["seq"], message["role"]) == (1, "user")
        assert message["content"] == "This is a new message."
        assert message["thread_id"] == thread["id"]
        assert "idempotent-replayed" not in first.headers
        # The same request again (a retry) replays the answer and writes nothing.
        again = deployment.curl(designs.CREATE_MESSAGE_CURL, writer, thread["id"])
        assert again.status == 201, again.body
        assert again.json() == message
        assert again.headers["idempotent-replayed"] == "true"
        stored = deployment.get(f"/threads/{thread['id']}/messages", writer)["data"]
        assert [m["id"] for m in stored] == [message["id"]]

    def test_first_message_as_written_creates_its_thread(self, deployment: Deployment) -> None:
        writer = deployment.key("writer")

        first = deployment.curl(designs.FIRST_MESSAGE_CURL, writer)

        assert first.status == 201, first.body
        body = first.json()
        thread, message = body["thread"], body["message"]
        assert thread["space_id"] == SPACE
        assert thread["message_count"] == 1
        assert (message["seq"], message["role"]) == (1, "user")
        assert message["content"] == "Starting a new conversation."
        assert message["thread_id"] == thread["id"]
        stored = deployment.get(f"/threads/{thread['id']}/messages", writer)["data"]
        assert [m["content"] for m in stored] == ["Starting a new conversation."]
        # A retry replays: still one thread with one message.
        again = deployment.curl(designs.FIRST_MESSAGE_CURL, writer)
        assert again.status == 201, again.body
        assert again.json() == body
        assert again.headers["idempotent-replayed"] == "true"
        assert deployment.get(f"/threads/{thread['id']}", writer)["message_count"] == 1


class TestConsiderations:
    def test_the_placeholder_key_is_refused_with_a_problem(self, deployment: Deployment) -> None:
        answer = run_curl(
            designs.LIST_THREADS_CURL,
            {designs.SPACES_HOST: deployment.server.url, "{space_id}": SPACE},
        )
        assert answer.status == 401
        assert answer.headers["content-type"].startswith("application/problem+json")
        problem = answer.json()
        assert problem["status"] == 401
        assert problem["title"]
        assert "your_api_key" not in answer.body

    def test_a_reader_key_cannot_write(self, deployment: Deployment) -> None:
        thread = deployment.create_thread(deployment.key("writer"), title="Read only")
        answer = deployment.curl(designs.PATCH_THREAD_CURL, deployment.key("reader"), thread["id"])
        assert answer.status == 403, answer.body
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert deployment.get(f"/threads/{thread['id']}", deployment.admin_key)["title"] == (
            "Read only"
        )

    def test_lists_are_paginated(self, deployment: Deployment) -> None:
        writer = deployment.key("writer")
        thread = deployment.create_thread(writer, title="Long")
        url = f"{deployment.server.url}/v1/spaces/{SPACE}/threads/{thread['id']}/messages"
        batch = {"messages": [{"content": f"m{i}"} for i in range(5)]}
        response = httpx.post(f"{url}/batch", json=batch, headers={"X-API-Key": writer}, timeout=10)
        assert response.status_code == 201, response.text

        contents: list[str] = []
        params: dict[str, Any] = {"limit": 2}
        while True:
            page = deployment.get(f"/threads/{thread['id']}/messages", writer, **params)
            assert len(page["data"]) <= 2
            contents.extend(m["content"] for m in page["data"])
            if not page["has_more"]:
                break
            params["after"] = page["last_id"]
        assert contents == [f"m{i}" for i in range(5)]
