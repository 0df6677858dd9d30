"""Apply the Alembic migrations (``threadloom migrate``, and on server start-up)."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config

from .urls import backend_of, sqlalchemy_url, sqlite_path

__all__ = ["migrate", "alembic_config"]

_MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url).replace("%", "%%"))
    return config


@contextmanager
def _sqlite_migration_lock(database_url: str) -> Iterator[None]:
    """Several processes starting on one SQLite file migrate one after the other."""
    path = sqlite_path(database_url)
    if path == ":memory:":
        yield
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path + ".migrate-lock", "a+") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def migrate(database_url: str, revision: str = "head") -> None:
    """Bring the schema to ``revision``. Redis has no schema: the store sets up what it
    needs (the default space) when it opens, so there is nothing to do."""
    backend = backend_of(database_url)
    if backend == "redis":
        return
    config = alembic_config(database_url)
    if backend == "sqlite":
        with _sqlite_migration_lock(database_url):
            command.upgrade(config, revision)
    else:
        # PostgreSQL: env.py takes an advisory lock inside the migration transaction.
        command.upgrade(config, revision)
