"""Thread state: any JSON value, versioned; optimistic concurrency through ETag/If-Match."""

from __future__ import annotations

from typing import Any

from ..errors import NotFound, PreconditionFailed, ValidationFailed
from ..events import EventHub
from ..models import PageQuery
from ..store import Store
from ..store.rows import StateRow
from ..validation import decimal_int64
from .auth import Principal
from .cursors import decode_cursor, encode_cursor
from .limits import LimitChecker
from .pages import page_of

__all__ = ["StateService", "etag", "merge_patch", "parse_if_match"]


def etag(version: int) -> str:
    return f'"{version}"'


def parse_if_match(header: str | None) -> set[int] | None:
    """None: no precondition. An empty set never matches; ``*`` matches any version."""
    if header is None:
        return None
    header = header.strip()
    if header == "*":
        return None
    versions: set[int] = set()
    for item in header.split(","):
        tag = item.strip()
        if tag.startswith("W/"):
            continue  # If-Match uses the strong comparison: a weak tag never matches
        version = decimal_int64(tag.strip('"'))
        if version is None:
            raise ValidationFailed(
                'If-Match must be the ETag of the state, such as "3"',
                errors=[{"loc": ["header", "If-Match"], "msg": "invalid entity tag"}],
            )
        versions.add(version)
    return versions


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class StateService:
    def __init__(self, store: Store, limits: LimitChecker, events: EventHub | None = None) -> None:
        self.store = store
        self.limits = limits
        self.events = events

    async def get(self, principal: Principal, space_id: str, thread_id: str) -> StateRow:
        principal.require_space(space_id)
        row = await self.store.get_state(space_id, thread_id)
        if row is None:
            raise NotFound(f"thread {thread_id!r} does not exist")
        return row

    async def _write(
        self,
        principal: Principal,
        space_id: str,
        thread_id: str,
        if_match: str | None,
        compute: Any,
    ) -> StateRow:
        principal.require_writer(space_id)
        expected = parse_if_match(if_match)

        def mutate(current: Any, version: int) -> Any:
            if expected is not None and version not in expected:
                raise PreconditionFailed(
                    f"the state is at version {version}; If-Match was {if_match}",
                    headers={"ETag": etag(version)},
                )
            new_state = compute(current)
            self.limits.state(new_state)
            return new_state

        keep = self.limits.limits.state_history_versions
        row = await self.store.write_state(space_id, thread_id, mutate, keep)
        if row is None:
            raise NotFound(f"thread {thread_id!r} does not exist")
        if self.events is not None:
            self.events.publish(space_id, thread_id, "state.updated", row)
        return row

    async def put(
        self,
        principal: Principal,
        space_id: str,
        thread_id: str,
        state: Any,
        if_match: str | None = None,
    ) -> StateRow:
        self.limits.state(state)
        return await self._write(principal, space_id, thread_id, if_match, lambda _: state)

    async def patch(
        self,
        principal: Principal,
        space_id: str,
        thread_id: str,
        patch: Any,
        if_match: str | None = None,
    ) -> StateRow:
        return await self._write(
            principal, space_id, thread_id, if_match, lambda current: merge_patch(current, patch)
        )

    async def history(
        self,
        principal: Principal,
        space_id: str,
        thread_id: str,
        query: PageQuery,
    ) -> dict[str, Any]:
        principal.require_space(space_id)
        page = await self.store.list_state_versions(
            space_id,
            thread_id,
            query.limit,
            decode_cursor(query.after, "after", (int,))[0] if query.after else None,
            decode_cursor(query.before, "before", (int,))[0] if query.before else None,
        )
        if page is None:
            raise NotFound(f"thread {thread_id!r} does not exist")
        return page_of(page, lambda row: encode_cursor(row["version"]))
