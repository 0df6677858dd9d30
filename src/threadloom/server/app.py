"""The FastAPI application: ``create_app(settings)``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from .._version import __version__
from ..config import Settings
from ..core.auth import is_loopback
from ..core.services import Services
from ..errors import ServiceUnavailable
from ..store import create_store
from ..store.batching import group_commit
from ..store.migrate import migrate
from .docs import install_docs
from .hot import HotRoutes, endpoints_of
from .metrics import instrument_store, process_stopped, record_llm_usage
from .metrics import router as metrics_router
from .middleware import RequestBodyMiddleware
from .observability import ObservabilityMiddleware
from .problems import install_problem_handlers
from .routers import (
    assistants,
    chat,
    events,
    health,
    keys,
    legacy,
    messages,
    rolethreads,
    sessions,
    spaces,
    state,
    threads,
    ui,
)

__all__ = ["InsecureStartRefused", "create_app"]

log = logging.getLogger("threadloom.server")
SWEEP_INTERVAL_SECONDS = 3600.0


class InsecureStartRefused(RuntimeError):
    """Serving a non-loopback address with no API key would expose every thread."""


async def _check_security(services: Services) -> None:
    settings = services.settings
    if await services.store.count_api_keys(include_revoked=True) > 0:
        return
    if is_loopback(settings.host):
        log.warning(
            "no API key exists: authentication is off because the server listens on %s only; "
            "create one with `threadloom keys create --admin`",
            settings.host,
        )
    elif settings.insecure:
        log.warning(
            "no API key exists and the server listens on %s with --insecure: anyone who can "
            "reach it can read and write every thread",
            settings.host,
        )
    else:
        raise InsecureStartRefused(
            f"refusing to serve {settings.host} with no API key: create one with "
            "`threadloom keys create --admin`, listen on 127.0.0.1, or pass --insecure"
        )


async def _sweep_forever(services: Services) -> None:
    while True:
        try:
            removed = await services.idempotency.sweep()
            if removed:
                log.info("removed %d expired idempotency keys", removed)
        except Exception:
            log.exception("the idempotency sweep failed; it will run again")
        await asyncio.sleep(SWEEP_INTERVAL_SECONDS)


async def _retention_forever(services: Services) -> None:
    while True:
        try:
            removed = await services.retention.sweep()
            if removed:
                log.info("removed %d expired threads", removed)
        except Exception:
            log.exception("the retention sweep failed; it will run again")
        await asyncio.sleep(services.settings.retention_sweep_seconds)


async def _stop(task: asyncio.Task[None]) -> None:
    """Cancel a background task and wait until it has ended. The cancellation is repeated
    while it runs on: a library may swallow one that lands inside its call (redis-py can),
    and the task would then sleep on instead of ending."""
    while not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=0.1)
    if not task.cancelled() and task.exception() is not None:
        log.error("a background task failed", exc_info=task.exception())


async def _start_events(services: Services) -> None:
    try:
        await services.events.start()
    except Exception as exc:
        raise ServiceUnavailable(
            f"THREADLOOM_REDIS_URL is set but Redis does not answer for events: {exc}"
        ) from exc
    if services.live.fans_out:
        log.info("live events fan out across server processes through Redis")
    else:
        log.info("live events reach subscribers of this process only (no THREADLOOM_REDIS_URL)")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            await asyncio.to_thread(migrate, settings.database_url)
        # Many requests append at once here: their appends share commits (batching.py).
        store = group_commit(create_store(settings))
        if settings.metrics_enabled:
            store = instrument_store(store)
        await store.open()
        services = Services.build(store, settings)
        try:
            await _check_security(services)
            log.info("language model: %s", services.chat.providers.config.describe())
            await _start_events(services)
            if settings.metrics_enabled:
                services.chat.on_usage = record_llm_usage
            app.state.services = services
            sweepers = [
                asyncio.create_task(_sweep_forever(services)),
                asyncio.create_task(_retention_forever(services)),
            ]
            try:
                yield
            finally:
                for sweeper in sweepers:
                    await _stop(sweeper)
                # Replies still streaming get a moment to finish, then keep what they said.
                await services.chat.aclose()
                await services.events.stop()
        finally:
            await store.close()
            process_stopped()

    app = FastAPI(
        title="threadloom",
        version=__version__,
        summary="Conversation memory for LLM applications.",
        description=(
            "Spaces hold threads; threads hold role-based messages and a versioned JSON state. "
            "Every error is `application/problem+json` (RFC 9457). Authenticate with "
            "`X-API-Key: KEY` or `Authorization: Bearer KEY`."
        ),
        lifespan=lifespan,
        # Served by install_docs, from installed assets instead of a CDN.
        docs_url=None,
        redoc_url=None,
    )
    install_problem_handlers(app)
    # Routes are matched in order: the hottest (messages, state, threads) go first, and the
    # hot path serves most of their endpoints without FastAPI's per-request work (server/hot/).
    hot_routers = (messages.router, state.router, threads.router)
    for router in (
        *hot_routers,
        spaces.router,
        keys.router,
        legacy.router,
        rolethreads.router,
        assistants.router,
        chat.router,
        sessions.router,
        events.router,
        health.router,
        ui.router,
    ):
        app.include_router(router)
    if settings.metrics_enabled:
        app.include_router(metrics_router)
    install_docs(app)
    # Innermost, so the body limit, CORS and the request id apply to hot requests too.
    app.add_middleware(HotRoutes, application=app, endpoints=endpoints_of(hot_routers))
    app.add_middleware(
        RequestBodyMiddleware,
        max_bytes=settings.limits.request_body_bytes,
        timeout_seconds=settings.body_timeout_seconds,
    )
    if settings.cors_origins:
        credentials = settings.cors_allow_credentials
        if credentials is None:
            credentials = "*" not in settings.cors_origins
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=credentials,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["ETag", "Idempotent-Replayed", "Retry-After", "X-Request-ID"],
        )
    # Added last, so it is the outermost: it sees every response, CORS and 413 ones too.
    app.add_middleware(ObservabilityMiddleware, record_metrics=settings.metrics_enabled)
    return app
