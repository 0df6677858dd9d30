"""Prometheus metrics: the definitions, the helpers other code calls, and ``GET /metrics``.

Labels are bounded: ``route`` is the route template (``/v1/spaces/{space_id}/threads``),
never the raw path, and ``<unmatched>`` when no route matched; an unknown method is
``OTHER``. Each server process counts in its own registry; with ``--workers N``, set
``PROMETHEUS_MULTIPROC_DIR`` to an empty directory and every worker writes its numbers
there, so any worker's ``/metrics`` answers for all of them (prometheus-client's
multiprocess mode).

Other code calls ``stream_opened()`` / ``stream_closed()`` around an event stream and
``record_llm_usage(...)`` after a completion.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from time import perf_counter
from typing import Any

from fastapi import APIRouter, Request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.responses import Response

from ..core.services import Services
from ..store import Store
from ..store.proxy import StoreProxy
from .deps import request_context
from .responses import problems

__all__ = [
    "UNMATCHED_ROUTE",
    "clear_multiprocess_dir",
    "instrument_store",
    "observe_request",
    "process_stopped",
    "record_llm_usage",
    "render",
    "router",
    "stream_closed",
    "stream_opened",
]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED_ROUTE = "<unmatched>"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_FAST_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip

HTTP_REQUESTS = Counter(
    "threadloom_http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "threadloom_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by method and route template.",
    ["method", "route"],
    buckets=_FAST_BUCKETS,
)
STORE_SECONDS = Histogram(
    "threadloom_store_operation_duration_seconds",
    "Time of each store operation (one database round trip or transaction).",
    ["backend", "operation"],
    buckets=_FAST_BUCKETS,
)
EVENT_STREAMS = Gauge(
    "threadloom_event_streams_open",
    "Event streams (server-sent events) open now.",
    multiprocess_mode="livesum",
)
LLM_TOKENS = Counter(
    "threadloom_llm_tokens_total",
    "Tokens sent to (prompt) and received from (completion) LLM providers.",
    ["provider", "model", "kind"],
)

# Label children looked up once: ``labels()`` takes a lock and builds a key every call.
_requests: dict[tuple[str, str, int], Any] = {}
_durations: dict[tuple[str, str], Any] = {}


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count one answered request (the middleware calls this)."""
    if method not in _METHODS:
        method = "OTHER"
    counter = _requests.get((method, route, status))
    if counter is None:
        counter = _requests[method, route, status] = HTTP_REQUESTS.labels(
            method, route, str(status)
        )
    counter.inc()
    histogram = _durations.get((method, route))
    if histogram is None:
        histogram = _durations[method, route] = HTTP_SECONDS.labels(method, route)
    histogram.observe(seconds)


def stream_opened() -> None:
    """An event stream started; pair every call with ``stream_closed()`` (in a finally)."""
    EVENT_STREAMS.inc()


def stream_closed() -> None:
    EVENT_STREAMS.dec()


def record_llm_usage(
    provider: str, model: str, prompt_tokens: int | None, completion_tokens: int | None
) -> None:
    """Add one completion's token usage (None or a negative count is taken as 0)."""
    model = model[:128]
    if prompt_tokens and prompt_tokens > 0:
        LLM_TOKENS.labels(provider, model, "prompt").inc(prompt_tokens)
    if completion_tokens and completion_tokens > 0:
        LLM_TOKENS.labels(provider, model, "completion").inc(completion_tokens)


# The store, timed -------------------------------------------------------------------------

STORE_OPERATIONS = tuple(
    dict.fromkeys(
        name
        for protocol in Store.__mro__
        for name, member in vars(protocol).items()
        if inspect.iscoroutinefunction(member) and name not in ("open", "close")
    )
)
"""Every operation of the contract (each of its per-resource protocols), but open and close."""


def _timed(
    operation: Callable[..., Awaitable[Any]], observe: Callable[[float], None]
) -> Callable[..., Coroutine[Any, Any, Any]]:
    async def timed(*args: Any, **kwargs: Any) -> Any:
        start = perf_counter()
        try:
            return await operation(*args, **kwargs)
        finally:
            observe(perf_counter() - start)

    return timed


class TimedStore(StoreProxy):
    """A store whose every operation is timed into ``STORE_SECONDS``; the ``backend`` name,
    ``open`` and ``close`` pass through (``StoreProxy`` delegates every operation, so the
    class is checked against ``Store``).

    The timed methods are built once, as instance attributes over the delegating ones, each
    calling the wrapped store's method itself: a call costs one extra coroutine frame, two
    clock reads and one histogram update."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        for name in STORE_OPERATIONS:
            observe = STORE_SECONDS.labels(store.backend, name).observe
            setattr(self, name, _timed(getattr(store, name), observe))


def instrument_store(store: Store) -> Store:
    """``store`` with each operation's duration recorded, labelled by backend and name."""
    return TimedStore(store)


# Exposition -------------------------------------------------------------------------------


def _multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def render() -> tuple[bytes, str]:
    """The Prometheus text exposition of this process, or of every process in
    multiprocess mode, and its content type."""
    if _multiprocess_dir() is None:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry), CONTENT_TYPE_LATEST


def clear_multiprocess_dir() -> None:
    """Removes the files an earlier run left in ``PROMETHEUS_MULTIPROC_DIR`` (call it once,
    before the workers start); creates the directory if it is missing."""
    directory = _multiprocess_dir()
    if directory is None:
        return
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for kind in ("counter", "gauge", "histogram", "summary"):
        for stale in path.glob(f"{kind}_*.db"):
            stale.unlink(missing_ok=True)


def process_stopped() -> None:
    """In multiprocess mode, drops this process's live gauges (its open streams)."""
    if _multiprocess_dir() is None:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


router = APIRouter(tags=["observability"])


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    description="Needs an admin key when the server requires keys, unless "
    "`THREADLOOM_METRICS_PUBLIC=true`.",
    responses={**problems(403), 200: {"content": {"text/plain": {}}}},
)
async def metrics(request: Request) -> Response:
    services: Services = request.app.state.services
    if not services.settings.metrics_public:
        context = await request_context(request)
        context.principal.require_admin()
    body, content_type = render()
    return Response(body, media_type=content_type)
