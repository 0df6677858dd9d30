"""A real ``threadloom serve`` killed with SIGKILL under load of idempotent appends, then
restarted on the same database: every request that got no answer is retried with its key
and body, and each append is stored exactly once.

The kill lands while appends are in flight: some had committed and lost their response,
some had not committed. Either way the retry is answered at once (201, or 201 replayed),
never 409 for a lease left by the dead process.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.fixtures.databases import POSTGRES, backend_url
from tests.fixtures.servers import LiveServer, start_server, stop_server

pytestmark = [pytest.mark.server, pytest.mark.anyio]

THREADS = ("crash-a", "crash-b", "crash-c")
REQUESTS = 300
CLIENTS = 16
KILL_AFTER = 100
"""Answers the first server gives before it is killed."""


@pytest.fixture(params=["sqlite", POSTGRES])
def database_url(request: pytest.FixtureRequest) -> str:
    return backend_url(request)


def _request(n: int) -> tuple[str, str, dict[str, str]]:
    """The n-th append: its path, key and body (the same on every retry)."""
    thread_id = THREADS[n % len(THREADS)]
    path = f"/v1/spaces/default/threads/{thread_id}/messages"
    return path, f"crash-key-{n}", {"content": f"message {n}"}


async def test_a_killed_server_stores_each_idempotent_append_once(
    database_url: str, tmp_path: Path
) -> None:
    servers: list[LiveServer] = [start_server(database_url, tmp_path)]
    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(20.0)) as client:
            first = servers[0]
            for thread_id in THREADS:
                created = await client.post(
                    f"{first.url}/v1/spaces/default/threads", json={"id": thread_id}
                )
                assert created.status_code == 201, created.text

            answers: dict[int, httpx.Response] = {}
            enough = asyncio.Event()
            queue: asyncio.Queue[int] = asyncio.Queue()
            for n in range(REQUESTS):
                queue.put_nowait(n)

            async def worker() -> None:
                while not queue.empty():
                    n = queue.get_nowait()
                    path, key, body = _request(n)
                    try:
                        response = await client.post(
                            first.url + path, json=body, headers={"Idempotency-Key": key}
                        )
                    except httpx.TransportError:
                        continue  # no answer: retried below
                    answers[n] = response
                    if len(answers) >= KILL_AFTER:
                        enough.set()

            async def killer() -> None:
                await enough.wait()
                first.process.kill()  # SIGKILL: no shutdown, no cleanup
                first.process.wait()

            await asyncio.gather(killer(), *(worker() for _ in range(CLIENTS)))
            assert {r.status_code for r in answers.values()} == {201}, [
                (r.status_code, r.text) for r in answers.values() if r.status_code != 201
            ]
            unanswered = [n for n in range(REQUESTS) if n not in answers]
            assert unanswered, "the server was killed after every request was answered"

            servers.append(start_server(database_url, tmp_path))
            second = servers[1]
            for n in unanswered:
                path, key, body = _request(n)
                retry = await client.post(
                    second.url + path, json=body, headers={"Idempotency-Key": key}
                )
                assert retry.status_code == 201, retry.text  # never a 409 wait
                answers[n] = retry

            for thread_id in THREADS:
                page = await client.get(
                    f"{second.url}/v1/spaces/default/threads/{thread_id}/messages",
                    params={"limit": 100},
                )
                assert page.status_code == 200, page.text
                assert page.json()["has_more"] is False
                stored = page.json()["data"]
                assert [m["seq"] for m in stored] == list(range(1, len(stored) + 1))
                contents = Counter(m["content"] for m in stored)
                expected = {
                    f"message {n}"
                    for n in range(REQUESTS)
                    if THREADS[n % len(THREADS)] == thread_id
                }
                assert set(contents) == expected  # nothing lost
                assert max(contents.values()) == 1  # nothing duplicated
                by_id = {m["id"]: m for m in stored}
                for n, response in answers.items():
                    if THREADS[n % len(THREADS)] == thread_id:
                        assert by_id[response.json()["id"]] == response.json()
    finally:
        for server in servers:
            stop_server(server)
