"""The ``threadloom`` command: serve, migrate, and manage API keys.

A thin layer: commands build ``Settings`` and call the same services the server uses.
"""

from __future__ import annotations

import asyncio
import functools
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal, TypeVar

import typer
from rich.console import Console
from rich.table import Column, Table

from .errors import ThreadloomError

__all__ = ["app", "main"]

T = TypeVar("T")
_DATABASE_MODULES = frozenset({"sqlite3", "sqlalchemy", "alembic", "asyncpg"})
app = typer.Typer(
    name="threadloom",
    help="Conversation memory for LLM applications: serve it, migrate it, manage its keys.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
keys_app = typer.Typer(help="Create, list and revoke API keys (against the configured database).")
app.add_typer(keys_app, name="keys")
out = Console()
err = Console(stderr=True, soft_wrap=True)

DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="THREADLOOM_DATABASE_URL",
        help="sqlite:///PATH or postgresql://USER@HOST/DB (default: a SQLite file in the "
        "user's data directory).",
        show_envvar=True,
    ),
]


def _settings(database_url: str | None = None, **overrides: Any) -> Any:
    from .config import Settings

    values = {k: v for k, v in overrides.items() if v is not None}
    if database_url:
        values["database_url"] = database_url
    return Settings(**values)


def _fail(message: str) -> typer.Exit:
    """One line on stderr (never wrapped, never read as markup) and exit status 1."""
    err.print("[bold red]error:[/] ", end="", highlight=False)
    err.print(message, markup=False, highlight=False)
    return typer.Exit(1)


def _handle_errors(func: Callable[..., T]) -> Callable[..., T]:
    """Errors are one readable line and a non-zero exit, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return func(*args, **kwargs)
        except ThreadloomError as exc:
            raise _fail(exc.detail) from None
        except OSError as exc:
            raise _fail(str(exc)) from None
        except Exception as exc:
            # Driver and migration errors (a file that is no database, a refused login...).
            if type(exc).__module__.split(".")[0] in _DATABASE_MODULES:
                reason = getattr(exc, "orig", None) or exc
                raise _fail(f"the database cannot be used: {reason}") from None
            raise

    return wrapper


def _with_services(settings: Any, work: Callable[[Any], Awaitable[T]]) -> T:
    from .core.services import Services
    from .store import create_store
    from .store.migrate import migrate

    migrate(settings.database_url)

    async def run() -> T:
        store = create_store(settings)
        await store.open()
        try:
            return await work(Services.build(store, settings))
        finally:
            await store.close()

    return asyncio.run(run())


@app.command()
@_handle_errors
def serve(
    host: Annotated[str, typer.Option(envvar="THREADLOOM_HOST", help="Address to bind.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(envvar="THREADLOOM_PORT", help="Port to bind.")] = 8000,
    workers: Annotated[
        int, typer.Option(envvar="THREADLOOM_WORKERS", min=1, help="Server processes.")
    ] = 1,
    insecure: Annotated[
        bool,
        typer.Option(help="Serve a non-loopback address even when no API key exists."),
    ] = False,
    database_url: DatabaseOption = None,
    log_level: Annotated[
        str, typer.Option(envvar="THREADLOOM_LOG_LEVEL", help="debug, info, warning or error.")
    ] = "info",
) -> None:
    """Run the HTTP server (migrating the database first)."""
    import uvicorn

    from .core.auth import is_loopback
    from .store import create_store
    from .store.migrate import migrate

    settings = _settings(database_url, host=host, port=port, workers=workers, insecure=insecure)
    migrate(settings.database_url)

    async def count_keys() -> int:
        store = create_store(settings)
        await store.open()
        try:
            return await store.count_api_keys()
        finally:
            await store.close()

    if not is_loopback(host) and not insecure and asyncio.run(count_keys()) == 0:
        raise _fail(
            f"refusing to serve {host} with no API key: create one with "
            "`threadloom keys create --admin`, listen on 127.0.0.1, or pass --insecure"
        )
    # Worker processes build their Settings from the environment.
    os.environ.update(
        THREADLOOM_DATABASE_URL=settings.database_url,
        THREADLOOM_HOST=host,
        THREADLOOM_PORT=str(port),
        THREADLOOM_INSECURE="true" if insecure else "false",
        THREADLOOM_MIGRATE_ON_START="false",
        THREADLOOM_LOG_LEVEL=log_level,
    )
    uvicorn.run(
        "threadloom.server.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        proxy_headers=True,
    )


@app.command("migrate")
@_handle_errors
def migrate_command(database_url: DatabaseOption = None) -> None:
    """Create or upgrade the database schema."""
    from .store.migrate import migrate

    settings = _settings(database_url)
    migrate(settings.database_url)
    out.print("the database is up to date")


@keys_app.command("create")
@_handle_errors
def keys_create(
    space: Annotated[str | None, typer.Option(help="The space the key is bound to.")] = None,
    role: Annotated[
        str, typer.Option(help="writer or reader (for a key bound to --space).")
    ] = "writer",
    admin: Annotated[bool, typer.Option("--admin", help="A key for every space.")] = False,
    name: Annotated[str | None, typer.Option(help="A label to recognise the key by.")] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Create a key. The secret is printed once, alone on the last line."""
    if admin and space is not None:
        raise _fail("an admin key is not bound to a space; omit --space")
    if role not in ("writer", "reader"):
        raise _fail("--role is writer or reader (use --admin for an admin key)")
    key_role: Literal["admin", "writer", "reader"] = "admin" if admin else role  # type: ignore[assignment]
    settings = _settings(database_url)
    secret, row = _with_services(
        settings, lambda services: services.keys.create(key_role, None if admin else space, name)
    )
    where = "every space" if admin else f"space {row['space_id']}"
    err.print(f"created {row['role']} key {row['id']} for {where}; it is shown only once:")
    sys.stdout.write(secret + "\n")


@keys_app.command("list")
@_handle_errors
def keys_list(database_url: DatabaseOption = None) -> None:
    """List keys (never their secrets)."""
    rows = _with_services(_settings(database_url), lambda services: services.keys.list_keys())
    table = Table("prefix", "role", "space", "name", "created", "revoked")
    # Whole ids even when piped (rich squeezes tables to 80 columns there): they are what
    # `keys revoke` takes.
    table.columns.insert(0, Column("id", no_wrap=True, min_width=30))
    table.columns[1].no_wrap = True
    for row in rows:
        table.add_row(
            row["id"],
            row["prefix"] + "…",
            row["role"],
            row["space_id"] or "*",
            row["name"] or "",
            row["created_at"],
            row["revoked_at"] or "",
        )
    out.print(table)


@keys_app.command("revoke")
@_handle_errors
def keys_revoke(key_id: str, database_url: DatabaseOption = None) -> None:
    """Revoke a key; servers stop accepting it within THREADLOOM_KEY_CACHE_SECONDS."""
    _with_services(_settings(database_url), lambda services: services.keys.revoke(key_id))
    out.print(f"revoked {key_id}")


def main() -> None:
    app()
