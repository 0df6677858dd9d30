"""Spaces (tenants): ``client.spaces``."""

from __future__ import annotations

from ...models import Page, Space
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

__all__ = ["SpaceEndpoints"]


class SpaceEndpoints:
    """Spaces (tenants). Creating, changing and deleting them takes an admin key."""

    @Endpoint
    def create(
        self,
        *,
        id: str | None = None,
        name: str | None = None,
        metadata: JSONMapping | None = None,
        idempotency_key: str | None = None,
    ) -> Call[Space]:
        """Create a space; ``id`` defaults to a generated one, ``name`` to the id."""
        body = given({"id": id, "name": name, "metadata": metadata})
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
        self, space: str, *, name: str | None = None, metadata: JSONMapping | None = None
    ) -> Call[Space]:
        """Rename a space or change its metadata (merged key by key; a None value removes
        the key)."""
        body = given({"name": name, "metadata": metadata})
        return Call("PATCH", path("v1", "spaces", space), decode(Space), content=encode(body))

    @Endpoint
    def delete(self, space: str, *, force: bool = False) -> Call[None]:
        """Delete an empty space; ``force=True`` also deletes all its threads and messages.
        Retried after a lost answer, a delete that got through answers ``NotFound``."""
        params = query(force=force or None)
        return Call("DELETE", path("v1", "spaces", space), no_content, params=params)
