"""The original minimal thread API: ``client.legacy``."""

from __future__ import annotations

from typing import Any

from ...models import LegacyThread
from ..calls import Call, Endpoint, decode, encode, given, idempotency, path

__all__ = ["LegacyEndpoints"]


class LegacyEndpoints:
    """The original minimal thread API (``/threads/``), on the default space, or the space
    of a space-bound key."""

    @Endpoint
    def create(
        self,
        thread_id: str,
        *,
        state: Any = None,
        initial_message: str | None = None,
        idempotency_key: str | None = None,
    ) -> Call[LegacyThread]:
        """Create a thread with a state and, optionally, a first user message."""
        body = given({"thread_id": thread_id, "initial_message": initial_message})
        return Call(
            "POST",
            "/threads/",
            decode(LegacyThread),
            content=encode({**body, "state": state}),
            headers=idempotency(idempotency_key),
        )

    @Endpoint
    def get(self, thread_id: str) -> Call[LegacyThread]:
        """A thread's id and state."""
        return Call("GET", path("threads", thread_id), decode(LegacyThread))

    @Endpoint
    def update(self, thread_id: str, state: Any) -> Call[LegacyThread]:
        """Replace a thread's state."""
        body = {"thread_id": thread_id, "state": state}
        return Call("PUT", path("threads", thread_id), decode(LegacyThread), content=encode(body))
