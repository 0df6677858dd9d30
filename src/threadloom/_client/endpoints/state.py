"""A thread's versioned state: ``client.state``."""

from __future__ import annotations

from typing import Any

from ...models import Page, State, StateVersion
from ..calls import Call, Endpoint, Pages, decode, encode, precondition, query, thread_path

__all__ = ["StateEndpoints"]


class StateEndpoints:
    """A thread's state: any JSON value, versioned. ``if_match=version`` makes a write
    conditional: if the state moved on, it raises ``PreconditionFailed`` and writes nothing.

    Writes are retried like a PUT: doing one twice leaves the state as doing it once (a
    merge patch too, RFC 7396), with one more version in the history. With ``if_match``,
    a retry can never write twice; but if an attempt got through and only its answer was
    lost, the retry raises ``PreconditionFailed``: the version moved on by your own write.
    So after a ``PreconditionFailed``, read the state again before deciding what to write.
    """

    @Endpoint
    def get(self, space: str, thread: str) -> Call[State]:
        """The state and its ``version`` (pass it as ``if_match`` to a write)."""
        return Call("GET", thread_path(space, thread, "state"), decode(State))

    @Endpoint
    def put(
        self, space: str, thread: str, state: Any, *, if_match: int | None = None
    ) -> Call[State]:
        """Replace the state."""
        return Call(
            "PUT",
            thread_path(space, thread, "state"),
            decode(State),
            content=encode({"state": state}),
            headers=precondition(if_match),
        )

    @Endpoint
    def patch(
        self, space: str, thread: str, patch: Any, *, if_match: int | None = None
    ) -> Call[State]:
        """Apply an RFC 7396 JSON merge patch: objects merge key by key, a None value
        removes its key, anything else replaces."""
        return Call(
            "PATCH",
            thread_path(space, thread, "state"),
            decode(State),
            content=encode(patch),
            content_type="application/merge-patch+json",
            headers=precondition(if_match),
        )

    @Endpoint
    def history(
        self,
        space: str,
        thread: str,
        *,
        limit: int | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> Call[Page[StateVersion]]:
        """A page of earlier versions of the state, newest first."""
        params = query(limit=limit, after=after, before=before)
        return Call(
            "GET",
            thread_path(space, thread, "state", "history"),
            decode(Page[StateVersion]),
            params=params,
        )

    iter_history = Pages(history)
