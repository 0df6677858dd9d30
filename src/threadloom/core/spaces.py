"""Spaces: the tenants. ``default`` always exists."""

from __future__ import annotations

from typing import Any

from ..errors import Conflict, NotFound
from ..ids import new_id
from ..models import PageQuery, SpaceCreate, SpaceUpdate
from ..store import Store
from ..store.rows import SpaceChanges, SpaceRow
from .auth import Principal
from .cursors import decode_cursor, encode_cursor
from .limits import LimitChecker
from .pages import page_of

__all__ = ["DEFAULT_SPACE", "SpaceService", "home_space", "merge_keys"]

DEFAULT_SPACE = "default"


def home_space(principal: Principal) -> str:
    """The space the original, space-less routes act on: the key's own, else ``default``."""
    return principal.space_id or DEFAULT_SPACE


def merge_keys(current: dict[str, Any], patch: dict[str, Any | None]) -> dict[str, Any]:
    """Merge key by key; a key set to None is removed."""
    merged = dict(current)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _cursor(row: SpaceRow) -> str:
    return encode_cursor(row["id"])


class SpaceService:
    def __init__(self, store: Store, limits: LimitChecker) -> None:
        self.store = store
        self.limits = limits

    async def create(self, principal: Principal, body: SpaceCreate) -> SpaceRow:
        principal.require_admin()
        self.limits.metadata(body.metadata)
        space_id = body.id or new_id("spc")
        return await self.store.create_space(
            space_id, body.name or space_id, body.metadata, body.default_thread_ttl_seconds
        )

    async def get(self, principal: Principal, space_id: str) -> SpaceRow:
        principal.require_space(space_id)
        row = await self.store.get_space(space_id)
        if row is None:
            raise NotFound(f"space {space_id!r} does not exist")
        return row

    async def list_spaces(self, principal: Principal, query: PageQuery) -> dict[str, Any]:
        after = decode_cursor(query.after, "after", (str,))[0] if query.after else None
        before = decode_cursor(query.before, "before", (str,))[0] if query.before else None
        page = await self.store.list_spaces(query.limit, after, before, principal.space_id)
        return page_of(page, _cursor)

    async def update(self, principal: Principal, space_id: str, body: SpaceUpdate) -> SpaceRow:
        principal.require_space(space_id)
        principal.require_admin()

        def mutate(space: SpaceRow) -> SpaceChanges:
            changes: SpaceChanges = {}
            if body.name is not None:
                changes["name"] = body.name
            if body.metadata is not None:
                changes["metadata"] = merge_keys(space["metadata"], body.metadata)
                self.limits.metadata(changes["metadata"])
            if "default_thread_ttl_seconds" in body.model_fields_set:
                # Null removes the default; threads that exist keep their expiry.
                changes["default_thread_ttl_seconds"] = body.default_thread_ttl_seconds
            return changes

        row = await self.store.update_space(space_id, mutate)
        if row is None:
            raise NotFound(f"space {space_id!r} does not exist")
        return row

    async def delete(self, principal: Principal, space_id: str, force: bool) -> None:
        principal.require_space(space_id)
        principal.require_admin()
        if space_id == DEFAULT_SPACE:
            raise Conflict("the default space cannot be deleted")
        if not await self.store.delete_space(space_id, force):
            raise NotFound(f"space {space_id!r} does not exist")
