"""Spaces (tenants): ``client.spaces``."""

from __future__ import annotations

from typing import TypedDict, Unpack

from ...models import Page, Purge, Space
from ..calls import (
    Call,
    Endpoint,
    JSONMapping,
    Pages,
    decode,
    encode,
    given,
    idempotency,
    no_content,
    path,
    query,
)

__all__ = ["SpaceChanges", "SpaceEndpoints"]


class SpaceChanges(TypedDict, total=False):
    """What ``spaces.update`` changes besides the name and metadata: only the fields given.
    ``default_thread_ttl_seconds=None`` removes the default."""

    default_thread_ttl_seconds: int | None


class SpaceEndpoints:
    """Spaces (tenants). Creating, changing and deleting them takes an admin key."""

    @Endpoint
    def create(
        self,
        *,
        id: str | None = None,
        name: str | None = None,
        metadata: JSONMapping | None = None,
        default_thread_ttl_seconds: int | None = None,
        idempotency_key: str | None = None,
    ) -> Call[Space]:
        """Create a space; ``id`` defaults to a generated one, ``name`` to the id.
        ``default_thread_ttl_seconds``: threads created in it without a ``ttl_seconds`` of
        their own expire after this long."""
        body = given(
            {
                "id": id,
                "name": name,
                "metadata": metadata,
                "default_thread_ttl_seconds": default_thread_ttl_seconds,
            }
        )
        return Call(
            "POST",
            "/v1/spaces",
            decode(Space),
            content=encode(body),
            headers=idempotency(idempotency_key),
        )

    @Endpoint
    def list(
        self, *, limit: int | None = None, after: str | None = None, before: str | None = None
    ) -> Call[Page[Space]]:
        """A page of the spaces this key sees, by id."""
        params = query(limit=limit, after=after, before=before)
        return Call("GET", "/v1/spaces", decode(Page[Space]), params=params)

    iter = Pages(list)

    @Endpoint
    def get(self, space: str) -> Call[Space]:
        """One space."""
        return Call("GET", path("v1", "spaces", space), decode(Space))

    @Endpoint
    def update(
        self,
        space: str,
        *,
        name: str | None = None,
        metadata: JSONMapping | None = None,
        **changes: Unpack[SpaceChanges],
    ) -> Call[Space]:
        """Rename a space or change its metadata (merged key by key; a None value removes
        the key), or its ``default_thread_ttl_seconds`` (None removes it; threads that
        exist keep their expiry)."""
        body = {**given({"name": name, "metadata": metadata}), **changes}
        return Call("PATCH", path("v1", "spaces", space), decode(Space), content=encode(body))

    @Endpoint
    def purge_owner(self, space: str, owner_id: str) -> Call[int]:
        """Delete every thread of ``owner_id`` in the space, with its messages and state;
        returns how many. Takes a writer key of the space or an admin key. Retried after
        a lost answer, it deletes nothing more (and may then answer 0)."""
        return Call(
            "POST",
            path("v1", "spaces", space, "purge"),
            lambda response: decode(Purge)(response).deleted,
            content=encode({"owner_id": owner_id}),
        )

    @Endpoint
    def delete(self, space: str, *, force: bool = False) -> Call[None]:
        """Delete an empty space; ``force=True`` also deletes all its threads and messages.
        Retried after a lost answer, a delete that got through answers ``NotFound``."""
        params = query(force=force or None)
        return Call("DELETE", path("v1", "spaces", space), no_content, params=params)
