"""Storage: the store contract, its backends, the schema and the migrations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..extras import requires_extra
from .contract import Store
from .urls import backend_of, postgres_dsn, sqlite_path

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["Store", "create_store"]


def create_store(settings: Settings) -> Store:
    """The backend named by ``settings.database_url``, not yet opened."""
    url = settings.database_url
    if backend_of(url) == "sqlite":
        from .sqlite import SQLiteStore

        return SQLiteStore(
            sqlite_path(url),
            busy_timeout_ms=settings.busy_timeout_ms,
            synchronous=settings.sqlite_synchronous,
        )
    if backend_of(url) == "redis":
        with requires_extra("the Redis store"):
            from .redis import RedisStore

        return RedisStore(url, prefix=settings.redis_prefix)
    with requires_extra("the PostgreSQL store"):
        from .postgres import PostgresStore

    return PostgresStore(postgres_dsn(url), pool_size=settings.postgres_pool_size)
