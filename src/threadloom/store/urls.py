"""Database URLs: what the user writes, and what each layer needs from it."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from ..errors import ValidationFailed

__all__ = ["Backend", "backend_of", "sqlalchemy_url", "sqlite_path"]

Backend = Literal["sqlite", "postgres", "redis"]


def backend_of(database_url: str) -> Backend:
    scheme = database_url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        return "sqlite"
    if scheme in ("postgresql", "postgres", "postgresql+asyncpg"):
        return "postgres"
    if scheme in ("redis", "rediss"):
        return "redis"
    raise ValidationFailed(
        f"unsupported database URL scheme {scheme!r}: use sqlite:///PATH, postgresql://..."
        " or redis://HOST:PORT/DB"
    )


def sqlite_path(database_url: str) -> str:
    """``sqlite:///relative.db``, ``sqlite:////abs/path.db`` or ``sqlite:///:memory:``."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix):
        raise ValidationFailed("a SQLite URL looks like sqlite:///path/to/threadloom.db")
    path = database_url[len(prefix) :].split("?", 1)[0]
    if not path:
        raise ValidationFailed("the SQLite URL names no file")
    return path if path == ":memory:" else str(Path(path).expanduser())


def postgres_dsn(database_url: str) -> str:
    """The libpq-style URL asyncpg takes."""
    scheme, rest = database_url.split("://", 1)
    return "postgresql://" + rest


def sqlalchemy_url(database_url: str) -> str:
    backend = backend_of(database_url)
    if backend == "redis":
        raise ValidationFailed("Redis has no SQL schema: there is nothing to migrate")
    if backend == "sqlite":
        return "sqlite:///" + sqlite_path(database_url)
    return "postgresql+asyncpg://" + database_url.split("://", 1)[1]
