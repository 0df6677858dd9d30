"""API keys: creating one, listing them, and who a key acts as."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import ResourceId, _Request, _Response

__all__ = ["ApiKey", "ApiKeyCreate", "ApiKeyCreated", "ApiKeyIdentity"]


KeyRole = Literal["admin", "writer", "reader"]


class ApiKeyCreate(_Request):
    role: KeyRole = "writer"
    space_id: ResourceId | None = None
    name: str | None = None


class ApiKey(_Response):
    object: Literal["api_key"] = "api_key"
    id: str
    name: str | None
    role: KeyRole
    space_id: str | None
    prefix: str
    created_at: str
    revoked_at: str | None


class ApiKeyCreated(ApiKey):
    key: str = Field(description="The secret. It is shown once and stored only as a hash.")


class ApiKeyIdentity(_Response):
    """Who a request acts as: what ``GET /v1/keys/me`` tells the key it was sent with."""

    object: Literal["api_key_identity"] = "api_key_identity"
    key_id: str | None = Field(
        description="The key's id; null on a server without keys (open on loopback)."
    )
    role: KeyRole = Field(description="admin, writer or reader (admin on an open server).")
    space_id: str | None = Field(
        description="The one space a writer or reader key works in; null for admin keys, "
        "which reach every space."
    )
