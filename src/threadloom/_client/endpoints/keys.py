"""API keys: ``client.keys``."""

from __future__ import annotations

from typing import Literal

from ...models import ApiKey, ApiKeyCreated, ApiKeyIdentity
from ..calls import Call, Endpoint, decode, encode, given, no_content, path

__all__ = ["KeyEndpoints"]

ApiKeys = list[ApiKey]  # a module-level name: KeyEndpoints has a method named list


class KeyEndpoints:
    """API keys; managing them takes an admin key, ``me()`` any key."""

    @Endpoint
    def me(self) -> Call[ApiKeyIdentity]:
        """The key this client sends: its id, role and space (``space_id`` is None for an
        admin key; ``key_id`` is None on a server without keys)."""
        return Call("GET", "/v1/keys/me", decode(ApiKeyIdentity))

    @Endpoint
    def create(
        self,
        *,
        role: Literal["admin", "writer", "reader"] = "writer",
        space: str | None = None,
        name: str | None = None,
    ) -> Call[ApiKeyCreated]:
        """Create a key: ``admin`` (every space), or ``writer``/``reader`` of ``space``.
        Its secret, ``.key``, is in this answer only. The server takes no Idempotency-Key
        here, so an attempt that failed after it was sent is not retried: it might have
        made a key."""
        body = given({"role": role, "space_id": space, "name": name})
        return Call(
            "POST", "/v1/keys", decode(ApiKeyCreated), content=encode(body), repeatable=False
        )

    @Endpoint
    def list(self) -> Call[ApiKeys]:
        """Every key, revoked ones too (never their secrets)."""
        return Call("GET", "/v1/keys", decode(ApiKeys))

    @Endpoint
    def revoke(self, key_id: str) -> Call[None]:
        """Revoke a key; servers stop accepting it within their key cache time (5 s)."""
        return Call("DELETE", path("v1", "keys", key_id), no_content)
