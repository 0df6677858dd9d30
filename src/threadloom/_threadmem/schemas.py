"""The wire shapes of the original ``threadmem`` library's server API (``/v1/rolethreads``).

Field names and types follow the original: timestamps are floats (unix seconds), a thread's
title is its ``name``, a message's content is its ``text``, and ``role_mapping`` maps a role
name to a ``V1Role``. Like the original models, these ignore unknown fields, so an original
client that posts a whole ``V1RoleThread`` where a create body is expected still works.

Shared by the server routes and the client-side compatibility API: this module imports only
pydantic (and the validation rules, which import nothing else), so ``import threadloom``
stays free of server dependencies. What a client sends is checked like every request body
(validation.py: no NUL, no lone surrogate, 64-bit integers, finite numbers).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from ..validation import StorableInput

__all__ = [
    "PostMessageModel",
    "V1CreateRoleThread",
    "V1DeleteRole",
    "V1PostRoleMessage",
    "V1Role",
    "V1RoleMessage",
    "V1RoleThread",
    "V1RoleThreadDeleted",
    "V1RoleThreadFilter",
    "V1RoleThreads",
    "V1UpdateRoleThread",
]

RoleThreadSort = Literal["created_asc", "created_desc", "updated_asc", "updated_desc"]


class V1Role(BaseModel):
    """Who speaks as a role; the original keys ``role_mapping`` by ``name``. Also read from
    responses (stored data), so it checks nothing itself: the request models that hold it
    check it, and ``POST .../roles``, whose body it is, adds the check to its parameter."""

    name: str
    user_id: str
    user_name: str
    icon: str
    description: str | None = None


class V1RoleMessage(BaseModel):
    id: str
    role: str
    text: str
    images: list[str] = Field(default_factory=list)
    private: bool | None = None
    metadata: dict[str, Any] | None = None
    created: float
    thread_id: str | None = None


class V1RoleThread(BaseModel):
    owner_id: str | None = None
    public: bool
    name: str | None = None
    metadata: dict[str, Any] | None = None
    id: str
    messages: list[V1RoleMessage]
    role_mapping: dict[str, V1Role] = Field(default_factory=dict)
    version: str | None = None
    created: float
    updated: float
    remote: str | None = None


class V1RoleThreads(BaseModel):
    threads: list[V1RoleThread]


class V1CreateRoleThread(StorableInput):
    """``POST /v1/rolethreads``. ``owner_id`` and ``role_mapping`` go beyond the original
    create body (the original took the owner from the caller and roles only one by one)."""

    public: bool = False
    name: str | None = None
    metadata: dict[str, Any] | None = None
    id: str | None = None
    owner_id: str | None = None
    role_mapping: dict[str, V1Role] = Field(default_factory=dict)


class V1UpdateRoleThread(StorableInput):
    """``PUT /v1/rolethreads/{id}``: ``name`` and ``metadata`` change when given (metadata is
    replaced as a whole); ``public`` is always set."""

    public: bool
    name: str | None = None
    metadata: dict[str, Any] | None = None


class V1DeleteRole(StorableInput):
    name: str


class PostMessageModel(StorableInput):
    """The original short body of ``POST /v1/rolethreads/{id}/msgs``."""

    role: str
    msg: str
    images: list[str] = Field(default_factory=list)


class V1PostRoleMessage(StorableInput):
    """What ``POST /v1/rolethreads/{id}/msgs`` accepts: the short form ``{role, msg, images}``
    or a whole ``V1RoleMessage`` (``text``, ``private``, ``metadata``; its ``id``, ``created``
    and ``thread_id`` are ignored, the server assigns its own)."""

    role: str
    msg: str | None = None
    text: str | None = None
    images: list[str] = Field(default_factory=list)
    private: bool | None = None
    metadata: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_text(self) -> V1PostRoleMessage:
        if self.msg is None and self.text is None:
            raise ValueError("give the message as msg or text")
        if self.msg is not None and self.text is not None and self.msg != self.text:
            raise ValueError("msg and text differ; give one of them")
        return self

    @property
    def content(self) -> str:
        return self.text if self.text is not None else self.msg or ""


class V1RoleThreadFilter(StorableInput):
    """Filters of ``GET /v1/rolethreads``, as query parameters or, as the original client
    sends them, a JSON body (its ``sort`` included)."""

    id: str | None = None
    owner_id: str | None = None
    name: str | None = Field(None, description="The exact name.")
    public: bool | None = None
    sort: RoleThreadSort | None = Field(None, description="Default created_asc.")


class V1RoleThreadDeleted(BaseModel):
    message: str
