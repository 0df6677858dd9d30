"""Real ``threadloom serve`` processes over loopback: concurrency, the original example,
the curl calls of the threads design, and start-up security."""

from __future__ import annotations

import ast
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.fixtures.servers import LiveServer, free_port

pytestmark = pytest.mark.server

StartServer = Callable[..., LiveServer]
KEY_PATTERN = re.compile(r"tl_[A-Za-z0-9_-]{43}")


def _env(database_url: str) -> dict[str, str]:
    """The environment of a child process: this one's, pointed at ``database_url`` only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREADLOOM_")}
    env["THREADLOOM_DATABASE_URL"] = database_url
    return env


def _create_admin_key(database_url: str) -> str:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "threadloom",
            "keys",
            "create",
            "--admin",
            "--database-url",
            database_url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(database_url),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip().splitlines()[-1]
    assert KEY_PATTERN.fullmatch(key), done.stdout
    return key


async def _all_messages(
    client: httpx.AsyncClient, base: str, space: str, thread_id: str
) -> list[dict[str, object]]:
    """Every message of a thread, paging through with ``limit=100`` and ``after=last_id``."""
    messages: list[dict[str, object]] = []
    after: str | None = None
    for _ in range(100):
        params: dict[str, str | int] = {"limit": 100}
        if after is not None:
            params["after"] = after
        response = await client.get(
            f"{base}/v1/spaces/{space}/threads/{thread_id}/messages", params=params
        )
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["object"] == "list"
        messages.extend(page["data"])
        if not page["has_more"]:
            return messages
        assert page["last_id"] is not None
        after = page["last_id"]
    raise AssertionError("paging never ended")


# a. and e.: two processes, one database, 200 concurrent appends ---------------------------


@pytest.mark.anyio
async def test_two_processes_append_concurrently_without_gaps(
    database_url: str, live_servers: StartServer
) -> None:
    servers = [live_servers(database_url), live_servers(database_url)]
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    timeout = httpx.Timeout(60.0)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
        created = await client.post(
            f"{servers[0].url}/v1/spaces/default/threads", json={"title": "race"}
        )
        assert created.status_code == 201, created.text
        thread_id = created.json()["id"]

        async def append(index: int) -> httpx.Response:
            server = servers[index % 2]
            return await client.post(
                f"{server.url}/v1/spaces/default/threads/{thread_id}/messages",
                json={"role": "user", "content": f"message {index}"},
            )

        responses = await asyncio.gather(*(append(i) for i in range(200)))
        statuses = [r.status_code for r in responses]
        assert statuses == [201] * 200, [
            (r.status_code, r.text) for r in responses if r.status_code != 201
        ][:5]
        returned_seqs = sorted(r.json()["seq"] for r in responses)
        assert returned_seqs == list(range(1, 201))

        # Read back through each process: both see the same, complete history.
        for server in servers:
            messages = await _all_messages(client, server.url, "default", thread_id)
            seqs = [m["seq"] for m in messages]
            assert seqs == list(range(1, 201))
            assert len({m["id"] for m in messages}) == 200
            assert sorted(str(m["content"]) for m in messages) == sorted(
                f"message {i}" for i in range(200)
            )
            assert all(m["thread_id"] == thread_id for m in messages)

        thread = await client.get(f"{servers[1].url}/v1/spaces/default/threads/{thread_id}")
        assert thread.status_code == 200
        assert thread.json()["message_count"] == 200


@pytest.mark.anyio
async def test_one_idempotency_key_raced_over_two_processes_creates_one_thread(
    database_url: str, live_servers: StartServer
) -> None:
    servers = [live_servers(database_url), live_servers(database_url)]
    body = {"title": "raced", "metadata": {"n": 1}}
    headers = {"Idempotency-Key": "race-1"}
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(60.0)) as client:

        async def create(index: int) -> httpx.Response:
            url = f"{servers[index % 2].url}/v1/spaces/default/threads"
            return await client.post(url, json=body, headers=headers)

        responses = await asyncio.gather(*(create(i) for i in range(40)))
        assert {r.status_code for r in responses} <= {201, 409}, [
            (r.status_code, r.text) for r in responses
        ]
        fresh = [
            r for r in responses if r.status_code == 201 and "idempotent-replayed" not in r.headers
        ]
        assert len(fresh) == 1
        replays = [r for r in responses if r.headers.get("idempotent-replayed") == "true"]
        assert all(r.status_code == 201 for r in replays)
        assert {r.json()["id"] for r in replays} <= {fresh[0].json()["id"]}
        for r in responses:
            if r.status_code == 409:
                assert r.headers["content-type"].startswith("application/problem+json")
                assert r.headers["retry-after"] == "1"

        # Once settled, every retry through either process replays the one thread.
        for server in servers:
            replay = await client.post(
                f"{server.url}/v1/spaces/default/threads", json=body, headers=headers
            )
            assert replay.status_code == 201
            assert replay.headers["idempotent-replayed"] == "true"
            assert replay.json()["id"] == fresh[0].json()["id"]

        other = await client.post(
            f"{servers[1].url}/v1/spaces/default/threads",
            json={"title": "another"},
            headers=headers,
        )
        assert other.status_code == 422
        assert other.headers["content-type"].startswith("application/problem+json")

        listed = await client.get(
            f"{servers[0].url}/v1/spaces/default/threads", params={"limit": 100}
        )
        assert [t["id"] for t in listed.json()["data"]] == [fresh[0].json()["id"]]


@pytest.mark.postgres
def test_workers_2_on_postgres_serves_requests(
    postgres_url: str, live_servers: StartServer
) -> None:
    server = live_servers(postgres_url, "--workers", "2")
    with httpx.Client(base_url=server.url, timeout=30) as client:
        created = client.post("/v1/spaces/default/threads", json={"title": "workers"})
        assert created.status_code == 201, created.text
        thread_id = created.json()["id"]
        for index in range(20):
            # A fresh connection each time, so both workers get a share of the requests.
            response = httpx.post(
                f"{server.url}/v1/spaces/default/threads/{thread_id}/messages",
                json={"content": f"m{index}"},
                timeout=30,
            )
            assert response.status_code == 201, response.text
            assert response.json()["seq"] == index + 1
        thread = client.get(f"/v1/spaces/default/threads/{thread_id}")
        assert thread.json()["message_count"] == 20
    assert server.process.poll() is None
    # Two worker processes came up under one parent.
    deadline = time.monotonic() + 30
    while server.log().count("Application startup complete") < 2:
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.1)
    log = server.log()
    assert "Started parent process" in log
    workers = set(re.findall(r"Started server process \[(\d+)\]", log))
    assert len(workers) == 2, log


# b. the original example, verbatim ------------------------------------------------------

ORIGINAL_EXAMPLE = """\
import httpx

BASE = {base!r}

httpx.post(f"{{BASE}}/threads/", json={{"thread_id": "thread1", "state": "initial", \
"initial_message": "Hello, world"}})
httpx.put(f"{{BASE}}/threads/thread1", json={{"thread_id": "thread1", "state": "active"}})
r = httpx.get(f"{{BASE}}/threads/thread1")
print(r.json())
"""


def test_original_example_verbatim(
    sqlite_url: str, live_servers: StartServer, tmp_path: Path
) -> None:
    server = live_servers(sqlite_url)
    script = tmp_path / "example.py"
    script.write_text(ORIGINAL_EXAMPLE.format(base=server.url))
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(sqlite_url),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    printed = done.stdout.strip().splitlines()
    assert len(printed) == 1, done.stdout
    assert ast.literal_eval(printed[0]) == {"thread_id": "thread1", "state": "active"}

    response = httpx.get(f"{server.url}/v1/spaces/default/threads/thread1/messages")
    assert response.status_code == 200
    data = response.json()["data"]
    assert len(data) == 1
    assert data[0]["seq"] == 1
    assert data[0]["content"] == "Hello, world"
    assert data[0]["role"] == "user"
    assert data[0]["thread_id"] == "thread1"

    thread = httpx.get(f"{server.url}/v1/spaces/default/threads/thread1").json()
    assert thread["state"] == "active"
    assert thread["message_count"] == 1


# c. the curl calls of the threads design -------------------------------------------------


def _curl(*args: str) -> tuple[int, dict[str, str], str]:
    """Runs the real ``curl -s -i``; returns (status, lower-cased headers, body)."""
    done = subprocess.run(
        ["curl", "-s", "-i", "--max-time", "30", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    head, _, body = done.stdout.replace("\r\n", "\n").partition("\n\n")
    status_line, *header_lines = head.splitlines()
    status = int(status_line.split()[1])
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def test_curl_calls_of_the_threads_design(sqlite_url: str, live_servers: StartServer) -> None:
    key = _create_admin_key(sqlite_url)
    server = live_servers(sqlite_url)
    threads_url = f"{server.url}/v1/spaces/default/threads"
    create = [
        "-X",
        "POST",
        threads_url,
        "-H",
        f"X-API-Key: {key}",
        "-H",
        "Content-Type: application/json",
        "-H",
        "Idempotency-Key: create-1",
        "-d",
        '{"title":"Support chat","metadata":{"customer":"c-42"}}',
    ]
    status, headers, body = _curl(*create)
    assert status == 201, body
    first = json.loads(body)
    assert first["title"] == "Support chat"
    assert first["metadata"] == {"customer": "c-42"}
    assert first["space_id"] == "default"
    assert "idempotent-replayed" not in headers

    status, headers, body = _curl(*create)
    assert status == 201, body
    assert json.loads(body)["id"] == first["id"]
    assert headers.get("idempotent-replayed") == "true"

    thread_id = first["id"]
    messages_url = f"{threads_url}/{thread_id}/messages"
    status, headers, body = _curl(
        "-X",
        "POST",
        messages_url,
        "-H",
        f"X-API-Key: {key}",
        "-H",
        "Content-Type: application/json",
        "-d",
        '{"role":"user","content":"Hi"}',
    )
    assert status == 201, body
    message = json.loads(body)
    assert message["seq"] == 1
    assert message["role"] == "user"
    assert message["content"] == "Hi"

    status, headers, body = _curl(messages_url, "-H", f"X-API-Key: {key}")
    assert status == 200, body
    listed = json.loads(body)
    assert [m["id"] for m in listed["data"]] == [message["id"]]
    assert headers["content-type"].startswith("application/json")

    status, headers, body = _curl(messages_url, "-H", f"Authorization: Bearer {key}")
    assert status == 200, body
    assert [m["content"] for m in json.loads(body)["data"]] == ["Hi"]

    status, headers, body = _curl(messages_url)
    assert status == 401
    assert headers["content-type"].startswith("application/problem+json")
    problem = json.loads(body)
    assert problem["status"] == 401
    assert "www-authenticate" in headers

    status, headers, body = _curl(messages_url, "-H", "X-API-Key: tl_" + "x" * 43)
    assert status == 401
    assert headers["content-type"].startswith("application/problem+json")

    # Nothing was written by the refused requests; the one thread has one message.
    status, _, body = _curl(f"{threads_url}/{thread_id}", "-H", f"Authorization: Bearer {key}")
    assert status == 200
    assert json.loads(body)["message_count"] == 1


# d. start-up security --------------------------------------------------------------------


def _serve(database_url: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "threadloom", "serve", *args, "--database-url", database_url]


def test_public_host_without_key_is_refused(sqlite_url: str) -> None:
    port = free_port()
    started = time.monotonic()
    done = subprocess.run(
        _serve(sqlite_url, "--host", "0.0.0.0", "--port", str(port)),
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(sqlite_url),
        check=False,
    )
    assert done.returncode != 0
    assert time.monotonic() - started < 30
    assert "Traceback" not in done.stderr
    flat = " ".join(done.stderr.split())
    assert "--insecure" in flat
    assert "error" in flat.lower()
    assert "no API key" in flat
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)


def test_public_host_with_a_key_starts(sqlite_url: str, tmp_path: Path) -> None:
    key = _create_admin_key(sqlite_url)
    process, log_path, port = _popen_serve(sqlite_url, tmp_path, "--host", "0.0.0.0")
    try:
        _wait_healthy(process, log_path, port)
        response = httpx.get(f"http://127.0.0.1:{port}/v1/spaces", timeout=5)
        assert response.status_code == 401
        response = httpx.get(
            f"http://127.0.0.1:{port}/v1/spaces", headers={"X-API-Key": key}, timeout=5
        )
        assert response.status_code == 200
    finally:
        _stop(process)


def _popen_serve(
    database_url: str, log_dir: Path, *args: str
) -> tuple[subprocess.Popen[bytes], Path, int]:
    port = free_port()
    log_path = log_dir / f"serve-{port}.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            _serve(database_url, "--port", str(port), *args),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=_env(database_url),
        )
    return process, log_path, port


def _wait_healthy(process: subprocess.Popen[bytes], log_path: Path, port: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise AssertionError(f"the server exited:\n{log_path.read_text(errors='replace')}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"no /healthz:\n{log_path.read_text(errors='replace')}")
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_public_host_with_insecure_starts(sqlite_url: str, tmp_path: Path) -> None:
    process, log_path, port = _popen_serve(sqlite_url, tmp_path, "--host", "0.0.0.0", "--insecure")
    try:
        _wait_healthy(process, log_path, port)
        # Open: no key needed, and it says so.
        response = httpx.get(f"http://127.0.0.1:{port}/v1/spaces/default", timeout=5)
        assert response.status_code == 200
        assert response.json()["id"] == "default"
        assert "--insecure" in log_path.read_text(errors="replace")
    finally:
        _stop(process)
    assert process.returncode is not None


def test_loopback_without_keys_warns_that_auth_is_off(
    sqlite_url: str, live_servers: StartServer
) -> None:
    server = live_servers(sqlite_url)
    response = httpx.get(f"{server.url}/v1/spaces/default", timeout=5)
    assert response.status_code == 200
    log = server.log()
    assert "no API key exists" in log
    assert "authentication is off" in log


def test_loopback_with_a_key_requires_it(sqlite_url: str, live_servers: StartServer) -> None:
    key = _create_admin_key(sqlite_url)
    server = live_servers(sqlite_url)
    assert httpx.get(f"{server.url}/v1/spaces/default", timeout=5).status_code == 401
    response = httpx.get(
        f"{server.url}/v1/spaces/default", headers={"Authorization": f"Bearer {key}"}, timeout=5
    )
    assert response.status_code == 200
    assert "authentication is off" not in server.log()
    # /healthz stays open for probes.
    assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
