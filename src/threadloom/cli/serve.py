"""``threadloom serve``: run the HTTP server."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .base import commands, examples, fail
from .options import DatabaseOption

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["app", "serving_app"]

app = commands()


def serving_app() -> FastAPI:
    """The application as each worker process of ``threadloom serve`` runs it (uvicorn's
    factory): ``create_app()`` with its settings from the environment, and ``gc.freeze()``
    once its lifespan has started. Everything loaded by then lives as long as the process:
    kept out of the garbage collector's generations, collections stay short under load.
    The freeze is process-wide, so it happens here and not in ``create_app``, which tests
    and embedding applications call."""
    from ..server.app import create_app

    application = create_app()
    started = application.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(fastapi_app: FastAPI) -> AsyncIterator[Any]:
        async with started(fastapi_app) as state:
            gc.freeze()
            yield state

    application.router.lifespan_context = lifespan
    return application


def _settings(database_url: str | None = None, **overrides: Any) -> Any:
    from ..config import Settings

    values = {k: v for k, v in overrides.items() if v is not None}
    if database_url:
        values["database_url"] = database_url
    return Settings(**values)


@app.command(
    epilog=examples(
        "threadloom serve                   # loopback: no key until one exists",
        "threadloom serve --host 0.0.0.0 --workers 4   # needs an API key",
    )
)
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
        typer.Option(
            envvar="THREADLOOM_INSECURE",
            help="Serve a non-loopback address even when no API key exists.",
        ),
    ] = False,
    database_url: DatabaseOption = None,
    log_level: Annotated[
        str, typer.Option(envvar="THREADLOOM_LOG_LEVEL", help="debug, info, warning or error.")
    ] = "info",
    log_format: Annotated[
        str,
        typer.Option(
            envvar="THREADLOOM_LOG_FORMAT", help="text, or json for one JSON object a line."
        ),
    ] = "text",
    header_timeout: Annotated[
        float | None,
        typer.Option(
            envvar="THREADLOOM_HEADER_TIMEOUT_SECONDS",
            help="Seconds a client may take to send a request's headers  [default: 10]",
        ),
    ] = None,
    body_timeout: Annotated[
        float | None,
        typer.Option(
            envvar="THREADLOOM_BODY_TIMEOUT_SECONDS",
            help="Seconds the server waits for a request's whole body  [default: 30]",
        ),
    ] = None,
) -> None:
    """Run the HTTP server (migrating the database first)."""
    import functools

    import uvicorn

    from ..core.auth import is_loopback
    from ..core.providers import checked_llm_config
    from ..logs import configure_logging, logging_config
    from ..server.metrics import clear_multiprocess_dir
    from ..server.protocol import TimedHttpToolsProtocol
    from ..store import create_store
    from ..store.migrate import migrate

    if log_level not in ("debug", "info", "warning", "error"):
        raise fail("--log-level is debug, info, warning or error")
    if log_format not in ("text", "json"):
        raise fail("--log-format is text or json")
    configure_logging(log_level, log_format)  # type: ignore[arg-type]
    settings = _settings(
        database_url,
        host=host,
        port=port,
        workers=workers,
        insecure=insecure,
        header_timeout_seconds=header_timeout,
        body_timeout_seconds=body_timeout,
    )
    # Here, where a failure is one line: the language model must be usable before anything
    # starts (each worker checks again, in its lifespan).
    checked_llm_config(settings.llm_config)
    migrate(settings.database_url)

    async def count_keys() -> int:
        store = create_store(settings)
        await store.open()
        try:
            return await store.count_api_keys()
        finally:
            await store.close()

    if not is_loopback(host) and not insecure and asyncio.run(count_keys()) == 0:
        raise fail(
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
        THREADLOOM_LOG_FORMAT=log_format,
        THREADLOOM_HEADER_TIMEOUT_SECONDS=str(settings.header_timeout_seconds),
        THREADLOOM_BODY_TIMEOUT_SECONDS=str(settings.body_timeout_seconds),
    )
    # uvicorn waits for ever on a request's head; this protocol closes a connection whose
    # head (or unread body) stalls (protocol.py). A partial pickles, for worker processes.
    http = functools.partial(
        TimedHttpToolsProtocol,
        header_timeout=settings.header_timeout_seconds,
        body_timeout=settings.body_timeout_seconds,
    )
    clear_multiprocess_dir()
    uvicorn.run(
        "threadloom.cli.serve:serving_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        # One logging set-up for uvicorn and the app; the app writes the access lines.
        log_config=logging_config(log_level, log_format),  # type: ignore[arg-type]
        access_log=False,
        # No route speaks WebSocket; uvicorn would answer a handshake itself and log its raw
        # path and query. Without a WebSocket protocol an upgrade is a plain HTTP request.
        ws="none",
        http=http,  # type: ignore[arg-type]
        proxy_headers=True,
    )
