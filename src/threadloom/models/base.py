"""What every wire schema shares: the base classes of requests, responses and list
queries, the constrained types used by several resources, pages and problems.

Requests forbid unknown fields, so a misspelt field is an error rather than silently ignored.
Responses allow extra fields, so an older client keeps working against a newer server.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from ..ids import ID_PATTERN
from ..validation import StorableInput

__all__ = [
    "ImageURLs",
    "JSONObject",
    "Page",
    "PageQuery",
    "Problem",
    "ResourceId",
    "TTL_MAX_SECONDS",
    "TTLSeconds",
]


JSONObject = dict[str, Any]
ResourceId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]

T = TypeVar("T")
TTL_MAX_SECONDS = 10 * 365 * 24 * 3600
TTLSeconds = Annotated[StrictInt, Field(ge=1, le=TTL_MAX_SECONDS)]
"""A time to live: one second to ten years."""


def _image_urls(images: list[str]) -> list[str]:
    for index, url in enumerate(images):
        if not url.startswith(("http://", "https://", "data:")):
            raise ValueError(f"images[{index}] must be an http(s) or data: URL")
    return images


ImageURLs = Annotated[list[str], AfterValidator(_image_urls)]
"""A message's images: http(s) or data: URLs (the same rule wherever a message is made)."""


class _Request(StorableInput):
    """A request body: no unknown fields, and only what every backend can store
    (validation.py)."""

    model_config = ConfigDict(extra="forbid")


class _Response(BaseModel):
    model_config = ConfigDict(extra="allow")


# List queries (the query string of list endpoints) ----------------------------------------


class _Query(StorableInput):
    model_config = ConfigDict(extra="ignore", frozen=True)
    input_loc = "query"

    limit: int = Field(20, ge=1, le=100, description="Items per page, 1 to 100.")
    after: str | None = Field(None, description="A page's last_id: the items after it.")
    before: str | None = Field(None, description="A page's first_id: the items before it.")


class PageQuery(_Query):
    pass


# Pages and problems -----------------------------------------------------------------------


class Page(_Response, Generic[T]):
    """One page of a list. Pass ``last_id`` as ``after`` (or ``first_id`` as ``before``)."""

    object: Literal["list"] = "list"
    data: list[T]
    has_more: bool
    first_id: str | None
    last_id: str | None


class Problem(_Response):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[JSONObject] | None = None
