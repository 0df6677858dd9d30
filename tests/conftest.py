"""Shared fixtures: real databases, migrated once per session and cleaned for every test.

PostgreSQL comes from ``THREADLOOM_TEST_POSTGRES_URL`` (a server, not a database: the tests
create their own database on it and drop it afterwards). Redis comes from
``THREADLOOM_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``): each test gets a key
prefix of its own and deletes its keys afterwards. Without a server, or when it does not
answer, its tests are skipped with the reason, except under ``CI=true`` where they fail: CI
must never pass by skipping.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis
from fastapi import FastAPI

from threadloom.config import Settings
from threadloom.core.services import Services
from threadloom.server.app import create_app
from threadloom.store import Store, create_store
from threadloom.store.migrate import migrate
from threadloom.store.urls import backend_of

PG_ENV = "THREADLOOM_TEST_POSTGRES_URL"
REDIS_ENV = "THREADLOOM_TEST_REDIS_URL"
REDIS_DEFAULT_URL = "redis://127.0.0.1:6379/0"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
_TABLES = (
    "spaces, threads, messages, state_versions, api_keys, idempotency_keys, assistants, leases"
)


def service_missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: services are required)", pytrace=False)
    pytest.skip(reason)


def _with_database(server_url: str, database: str) -> str:
    base, _, _ = server_url.rstrip("/").rpartition("/")
    if "://" not in base:  # no database in the URL
        base = server_url.rstrip("/")
    return f"{base}/{database}"


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "threadloom.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@contextmanager
def empty_postgres_database(prefix: str) -> Iterator[str]:
    """A new empty database of its own on the test server, dropped afterwards."""
    server = os.environ.get(PG_ENV)
    if not server:
        service_missing(f"PostgreSQL tests need {PG_ENV}")
    assert server is not None
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(server, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        service_missing(f"PostgreSQL at {PG_ENV} is unreachable: {exc}")
    try:
        yield _with_database(server, name)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A fresh, migrated database on the test server, dropped at the end of the session."""
    with empty_postgres_database("threadloom_test") as url:
        migrate(url)
        yield url


def reset_postgres(url: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE")
            await conn.execute(
                "INSERT INTO spaces (id, name, metadata, created_at)"
                " VALUES ('default', 'Default', '{}', now())"
            )
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    reset_postgres(postgres_server)
    return postgres_server


def delete_redis_prefix(client: redis.Redis, prefix: str) -> None:
    """Delete every key under ``prefix`` (SCAN, then UNLINK in batches)."""
    batch: list[bytes] = []
    for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        batch.append(key)
        if len(batch) >= 500:
            client.unlink(*batch)
            batch.clear()
    if batch:
        client.unlink(*batch)


@pytest.fixture
def redis_prefix() -> str:
    """The key prefix of this test's Redis store (its ``Settings.redis_prefix``)."""
    return f"threadloom-test-{uuid.uuid4().hex[:16]}"


@pytest.fixture
def redis_url(redis_prefix: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The test Redis server; every key under ``redis_prefix`` is deleted afterwards. The
    prefix is also ``THREADLOOM_REDIS_PREFIX`` meanwhile, for every Settings the test builds
    (and the servers it starts)."""
    url = os.environ.get(REDIS_ENV) or REDIS_DEFAULT_URL
    monkeypatch.setenv("THREADLOOM_REDIS_PREFIX", redis_prefix)
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=10)
    try:
        client.ping()
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        client.close()
        service_missing(f"Redis at {REDIS_ENV} (default {REDIS_DEFAULT_URL}) is unreachable: {exc}")
    try:
        yield url
    finally:
        delete_redis_prefix(client, redis_prefix)
        client.close()


POSTGRES = pytest.param("postgres", marks=pytest.mark.postgres)
REDIS = pytest.param("redis", marks=pytest.mark.redis)


def backend_url(request: pytest.FixtureRequest) -> str:
    """The clean database of the backend ``request.param`` names."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture(params=["sqlite", POSTGRES, REDIS])
def database_url(request: pytest.FixtureRequest) -> str:
    """A clean database of each backend: migrated SQLite and PostgreSQL, and Redis under a
    key prefix of this test's own."""
    return backend_url(request)


@pytest.fixture
def settings(database_url: str, request: pytest.FixtureRequest) -> Settings:
    extra: dict[str, Any] = {}
    if backend_of(database_url) == "redis":
        extra["redis_prefix"] = request.getfixturevalue("redis_prefix")
    return Settings(database_url=database_url, migrate_on_start=False, _env_file=None, **extra)  # type: ignore[call-arg]


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    backend = create_store(settings)
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()


# The application, in process ---------------------------------------------------------------


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The ASGI app with its lifespan running (store open, services built)."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client wired to the app in process (no socket)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        yield client


def services_of(app: FastAPI) -> Services:
    services: Services = app.state.services
    return services


# Real servers over loopback ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(
    database_url: str,
    log_dir: Path,
    *args: str,
    env: dict[str, str] | None = None,
    wait: bool = True,
) -> LiveServer:
    """``threadloom serve`` as a real process on a free loopback port."""
    port = free_port()
    log_path = log_dir / f"server-{port}.log"
    full_env = {**os.environ, "THREADLOOM_DATABASE_URL": database_url, **(env or {})}
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "threadloom", "serve", "--port", str(port), *args],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=full_env,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", process, log_path)
    if wait:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited early:\n{server.log()}")
            try:
                if httpx.get(server.url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                stop_server(server)
                raise RuntimeError(f"the server did not start:\n{server.log()}")
            time.sleep(0.1)
    return server


def stop_server(server: LiveServer) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGINT)
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


@pytest.fixture
def live_servers(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """A factory of real server processes, all stopped at the end of the test."""
    started: list[LiveServer] = []

    def start(database_url: str, *args: str, **kwargs: Any) -> LiveServer:
        server = start_server(database_url, tmp_path, *args, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        stop_server(server)
