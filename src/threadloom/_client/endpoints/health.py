"""Liveness and readiness: ``client.health()`` and ``client.ready()``."""

from __future__ import annotations

from typing import Any

from ..calls import Call, Endpoint, decode

__all__ = ["ServiceEndpoints"]


class ServiceEndpoints:
    """The service itself: on the client, ``client.health()`` and ``client.ready()``."""

    @Endpoint
    def health(self) -> Call[dict[str, Any]]:
        """``{"status": "ok"}`` while the server process is alive."""
        return Call("GET", "/healthz", decode(dict[str, Any]))

    @Endpoint
    def ready(self) -> Call[dict[str, Any]]:
        """``{"status": "ready", "database": ...}`` when the database answers; otherwise
        raises ``ServiceUnavailable`` at once (a probe reports now: no retry on 503)."""
        return Call("GET", "/readyz", decode(dict[str, Any]), retry_statuses=frozenset())
