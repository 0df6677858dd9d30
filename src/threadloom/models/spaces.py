"""Spaces: the top of the hierarchy, holding threads."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from .base import JSONObject, ResourceId, TTLSeconds, _Request, _Response

__all__ = ["Purge", "PurgeCreate", "Space", "SpaceCreate", "SpaceUpdate"]


class SpaceCreate(_Request):
    id: ResourceId | None = None
    name: str | None = None
    metadata: JSONObject = Field(default_factory=dict)
    default_thread_ttl_seconds: TTLSeconds | None = Field(
        None,
        description="The time to live of threads created in the space without a ttl_seconds "
        "of their own; null: they never expire.",
    )


class SpaceUpdate(_Request):
    name: str | None = None
    metadata: dict[str, Any | None] | None = Field(
        None, description="Merged key by key; a key set to null is removed."
    )
    default_thread_ttl_seconds: TTLSeconds | None = Field(
        None,
        description="Applies to threads created from now on; null removes the default. "
        "Absent: unchanged.",
    )


class Space(_Response):
    object: Literal["space"] = "space"
    id: str
    name: str
    metadata: JSONObject
    created_at: str
    default_thread_ttl_seconds: int | None = None


class PurgeCreate(_Request):
    owner_id: Annotated[str, StringConstraints(min_length=1)] = Field(
        description="Every thread of this owner in the space is deleted, with its messages "
        "and state."
    )


class Purge(_Response):
    object: Literal["purge"] = "purge"
    owner_id: str
    deleted: int = Field(description="How many threads were deleted.")
