"""The Alembic migrations build exactly ``threadloom.store.schema.metadata`` on both backends,
are idempotent, reversible, and safe when several processes run them at once."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine

from tests.fixtures.databases import POSTGRES, backend_url, empty_postgres_database
from threadloom.store import schema
from threadloom.store.migrate import alembic_config, migrate
from threadloom.store.urls import backend_of, sqlalchemy_url

TABLES = {
    "spaces",
    "threads",
    "messages",
    "state_versions",
    "api_keys",
    "idempotency_keys",
    "assistants",
    "leases",
}


def _head(url: str) -> str:
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert head is not None
    return head


# Inspecting a database through SQLAlchemy, sync for SQLite and asyncpg for PostgreSQL ------


def _inspect(url: str, work: Any) -> Any:
    """Runs ``work(sync_connection)`` against the database and returns its result."""
    if backend_of(url) == "sqlite":
        engine = sa.create_engine(sqlalchemy_url(url), poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as connection:
                return work(connection)
        finally:
            engine.dispose()

    async def run() -> Any:
        engine = create_async_engine(sqlalchemy_url(url), poolclass=sa.pool.NullPool)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(work)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _differences(url: str) -> list[Any]:
    def compare(connection: sa.Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, schema.metadata))

    result: list[Any] = _inspect(url, compare)
    return result


def _snapshot(url: str) -> dict[str, Any]:
    """Tables, columns, indexes, constraints, the Alembic version and the spaces."""

    def take(connection: sa.Connection) -> dict[str, Any]:
        inspector = sa.inspect(connection)
        tables = sorted(inspector.get_table_names())
        shape = {
            table: {
                "columns": [
                    (c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)
                ],
                "indexes": sorted(
                    (i["name"] or "", tuple(i["column_names"]))
                    for i in inspector.get_indexes(table)
                ),
                "uniques": sorted(
                    (u["name"] or "", tuple(u["column_names"]))
                    for u in inspector.get_unique_constraints(table)
                ),
                "fks": sorted(
                    (f["name"] or "", tuple(f["constrained_columns"]))
                    for f in inspector.get_foreign_keys(table)
                ),
            }
            for table in tables
        }
        versions = (
            sorted(
                row[0]
                for row in connection.execute(sa.text("SELECT version_num FROM alembic_version"))
            )
            if "alembic_version" in tables
            else []
        )
        spaces = (
            [
                tuple(row)
                for row in connection.execute(
                    sa.text("SELECT id, name, created_at FROM spaces ORDER BY id")
                )
            ]
            if "spaces" in tables
            else []
        )
        return {"tables": tables, "shape": shape, "versions": versions, "spaces": spaces}

    result: dict[str, Any] = _inspect(url, take)
    return result


# Databases --------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", POSTGRES])
def database_url(request: pytest.FixtureRequest) -> str:
    """A clean, migrated database of each SQL backend (Redis has no schema to migrate)."""
    return backend_url(request)


# Fresh databases --------------------------------------------------------------------------


@pytest.fixture
def fresh_sqlite_url(tmp_path: Path) -> str:
    """A SQLite file that does not exist yet, in a directory that does not exist yet."""
    return f"sqlite:///{tmp_path / 'new' / 'fresh.db'}"


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """An empty database of its own on the test server, dropped afterwards."""
    with empty_postgres_database("threadloom_mig") as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest) -> str:
    name = "fresh_sqlite_url" if request.param == "sqlite" else "fresh_postgres_url"
    return str(request.getfixturevalue(name))


# The tests --------------------------------------------------------------------------------


def test_migrations_match_the_schema_module(database_url: str) -> None:
    assert _differences(database_url) == []


def test_fresh_migration_matches_the_schema_module(fresh_url: str) -> None:
    migrate(fresh_url)
    assert _differences(fresh_url) == []
    snapshot = _snapshot(fresh_url)
    assert set(snapshot["tables"]) == TABLES | {"alembic_version"}
    assert snapshot["versions"] == [_head(fresh_url)]


def test_the_comparison_sees_a_difference(fresh_sqlite_url: str) -> None:
    """The no-difference check above is not vacuous: a missing index is reported."""
    migrate(fresh_sqlite_url)
    path = fresh_sqlite_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        conn.execute("DROP INDEX ix_idempotency_keys_created_at")
    conn.close()
    differences = _differences(fresh_sqlite_url)
    assert differences
    assert any("ix_idempotency_keys_created_at" in repr(diff) for diff in differences)


def test_default_space_exists_after_migration(fresh_url: str) -> None:
    migrate(fresh_url)
    spaces = _snapshot(fresh_url)["spaces"]
    assert [space[:2] for space in spaces] == [("default", "Default")]


def test_migrating_twice_is_a_no_op(database_url: str) -> None:
    before = _snapshot(database_url)
    assert before["versions"] == [_head(database_url)]
    migrate(database_url)
    migrate(database_url)
    after = _snapshot(database_url)
    assert after == before
    assert _differences(database_url) == []


def test_migrating_again_keeps_the_data(fresh_url: str) -> None:
    migrate(fresh_url)

    def add_space(connection: sa.Connection) -> None:
        connection.execute(
            sa.text(
                "INSERT INTO spaces (id, name, metadata, created_at)"
                " VALUES ('kept', 'Kept', '{\"a\": 1}', :created_at)"
            ),
            {"created_at": _now_for(connection)},
        )
        connection.commit()

    _inspect(fresh_url, add_space)
    migrate(fresh_url)
    assert [space[0] for space in _snapshot(fresh_url)["spaces"]] == ["default", "kept"]


def _now_for(connection: sa.Connection) -> Any:
    now = datetime.now(UTC)
    if connection.dialect.name == "sqlite":
        return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return now


def test_downgrade_to_base_then_upgrade_to_head(fresh_url: str) -> None:
    migrate(fresh_url)
    config = alembic_config(fresh_url)
    command.downgrade(config, "base")
    down = _snapshot(fresh_url)
    assert set(down["tables"]) <= {"alembic_version"}
    assert down["versions"] == []

    migrate(fresh_url)
    up = _snapshot(fresh_url)
    assert set(up["tables"]) == TABLES | {"alembic_version"}
    assert up["versions"] == [_head(fresh_url)]
    assert [space[0] for space in up["spaces"]] == ["default"]
    assert _differences(fresh_url) == []


def _migrate_process(url: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREADLOOM_")}
    return subprocess.Popen(
        [sys.executable, "-m", "threadloom", "migrate", "--database-url", url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.mark.parametrize("processes", [2, 4])
def test_concurrent_migrations_of_a_fresh_database_all_succeed(
    fresh_url: str, processes: int
) -> None:
    running = [_migrate_process(fresh_url) for _ in range(processes)]
    for process in running:
        stdout, stderr = process.communicate(timeout=90)
        assert process.returncode == 0, stderr
        assert "Traceback" not in stderr
        assert "up to date" in stdout
    snapshot = _snapshot(fresh_url)
    assert set(snapshot["tables"]) == TABLES | {"alembic_version"}
    assert snapshot["versions"] == [_head(fresh_url)]
    assert [space[0] for space in snapshot["spaces"]] == ["default"]
    assert _differences(fresh_url) == []


def test_the_matching_migration_fills_in_the_threads_that_exist(fresh_url: str) -> None:
    """0004 adds the case-folded title and the metadata terms and computes them in Python
    for every thread written before it, so the new filters find old threads too."""
    migrate(fresh_url, "0003")

    def add_threads(connection: sa.Connection) -> None:
        for n, (title, metadata) in enumerate(
            [("École du soir", '{"v": 1e20, "o": {"x": 1}}'), (None, '{"v": "1"}')]
        ):
            connection.execute(
                sa.text(
                    "INSERT INTO threads (space_id, id, title, public, status, metadata,"
                    " state_version, role_mapping, message_count, last_seq, created_at,"
                    " updated_at) VALUES ('default', :id, :title, false, 'active',"
                    + (
                        " :metadata"
                        if connection.dialect.name == "sqlite"
                        else " CAST(:metadata AS jsonb)"
                    )
                    + ", 0, '{}', 0, 0, :now, :now)"
                ),
                {"id": f"t{n}", "title": title, "metadata": metadata, "now": _now_for(connection)},
            )
        connection.commit()

    _inspect(fresh_url, add_threads)
    migrate(fresh_url)

    def read(connection: sa.Connection) -> list[Any]:
        rows = connection.execute(
            sa.text("SELECT id, title_folded, metadata_terms FROM threads ORDER BY id")
        ).fetchall()
        return [(r[0], r[1], json.loads(r[2]) if isinstance(r[2], str) else r[2]) for r in rows]

    assert _inspect(fresh_url, read) == [
        ("t0", "école du soir", {"v": "n:100000000000000000000"}),
        ("t1", None, {"v": "s:1"}),
    ]
    assert _differences(fresh_url) == []
