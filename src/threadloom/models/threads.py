"""Threads: their roles, their fields, and the query of a thread list."""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import AwareDatetime, BaseModel, Field, StrictBool, model_validator

from .base import JSONObject, ResourceId, TTLSeconds, _Query, _Request, _Response

__all__ = ["Role", "Thread", "ThreadCreate", "ThreadListQuery", "ThreadStatus", "ThreadUpdate"]


ThreadStatus = Literal["active", "archived"]


class Role(BaseModel):
    """Who speaks as a role in a thread: ``role_mapping["assistant"] = Role(name="Ada", ...)``."""

    name: str
    user_id: str | None = None
    user_name: str | None = None
    icon: str | None = None
    description: str | None = None


class ThreadCreate(_Request):
    id: ResourceId | None = None
    title: str | None = None
    owner_id: str | None = None
    public: StrictBool = False
    metadata: JSONObject = Field(default_factory=dict)
    state: Any = None
    role_mapping: dict[str, Role] = Field(default_factory=dict)
    ttl_seconds: TTLSeconds | None = Field(
        None,
        description="Seconds until the thread, its messages and state are deleted (counted "
        "from creation; appending does not extend it). Absent or null: the space's "
        "default_thread_ttl_seconds, if any.",
    )
    expires_at: AwareDatetime | None = Field(
        None,
        description="Instead of ttl_seconds, the instant the thread, its messages and state "
        "are deleted: an RFC 3339 time with its UTC offset, in the future and at most ten "
        "years away (as a thread's own expires_at reads, so a copy keeps the original's "
        "expiry). Absent or null: ttl_seconds, or the space's default.",
    )

    @model_validator(mode="after")
    def _one_expiry(self) -> Self:
        if self.ttl_seconds is not None and self.expires_at is not None:
            raise ValueError("give ttl_seconds or expires_at, not both")
        return self


class ThreadUpdate(_Request):
    title: str | None = None
    status: ThreadStatus | None = None
    public: StrictBool | None = None
    owner_id: str | None = None
    metadata: dict[str, Any | None] | None = Field(
        None, description="Merged key by key; a key set to null is removed."
    )
    role_mapping: dict[str, Role | None] | None = Field(
        None, description="Merged role by role; a role set to null is removed."
    )
    ttl_seconds: TTLSeconds | None = Field(
        None,
        description="The thread now expires this many seconds from now; null: it never "
        "expires. Absent: unchanged.",
    )


class Thread(_Response):
    object: Literal["thread"] = "thread"
    id: str
    space_id: str
    title: str | None
    owner_id: str | None
    public: bool
    status: ThreadStatus
    metadata: JSONObject
    state: Any
    state_version: int
    role_mapping: dict[str, Role]
    message_count: int
    created_at: str
    updated_at: str
    archived_at: str | None
    expires_at: str | None = Field(
        None, description="When the thread and everything in it is deleted; null: never."
    )


class ThreadListQuery(_Query):
    status: Literal["active", "archived", "all"] = "active"
    owner_id: str | None = None
    title: str | None = Field(None, description="The exact title.")
    public: bool | None = None
    q: str | None = Field(
        None, description="A substring of the title, compared after Unicode case folding."
    )
    order_by: Literal["updated_at", "created_at"] = "updated_at"
    order: Literal["asc", "desc"] = "desc"
    metadata: tuple[tuple[str, str], ...] = Field(
        (),
        description="From metadata[KEY]=VALUE parameters, all of which must match: VALUE "
        "equals the scalar at KEY (a string as text, true/false, a number by value, so 1e+20 "
        "matches 100000000000000000000); null, objects and arrays never match.",
        json_schema_extra={"x-threadloom-internal": True},
    )
