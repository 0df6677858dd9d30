"""Shared fixtures: real databases, migrated once per session and cleaned for every test.

PostgreSQL comes from ``THREADLOOM_TEST_POSTGRES_URL`` (a server, not a database: the tests
create their own database on it and drop it afterwards). Without it, or when the server does
not answer, PostgreSQL tests are skipped with the reason, except under ``CI=true`` where they
fail: CI must never pass by skipping.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from threadloom.config import Settings
from threadloom.store import Store, create_store
from threadloom.store.migrate import migrate

PG_ENV = "THREADLOOM_TEST_POSTGRES_URL"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
_TABLES = "spaces, threads, messages, state_versions, api_keys, idempotency_keys"


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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A fresh, migrated database on the test server, dropped at the end of the session."""
    server = os.environ.get(PG_ENV)
    if not server:
        service_missing(f"PostgreSQL tests need {PG_ENV}")
    assert server is not None
    name = f"threadloom_test_{uuid.uuid4().hex[:10]}"

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
    url = _with_database(server, name)
    migrate(url)
    yield url
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


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


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """A clean, migrated database of each backend."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, migrate_on_start=False, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    backend = create_store(settings)
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()
