"""API keys and who a request acts as.

A key is ``tl_`` and 43 random URL-safe characters; only its SHA-256 is stored (the key
carries 256 bits of entropy, so a fast hash is the right one: there is nothing to brute
force). A key is ``admin`` (every space, manages spaces and keys) or bound to one space as
``writer`` or ``reader``. A key never reaches another space: such resources answer 404,
exactly as if they did not exist.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import secrets
import time
from dataclasses import dataclass
from typing import Literal, TypedDict

from ..errors import Forbidden, NotFound, Unauthenticated, ValidationFailed
from ..ids import new_id
from ..store import Store
from ..store.rows import ApiKeyRow

__all__ = ["KeyIdentity", "KeyService", "Principal", "hash_key", "is_loopback"]

KeyRole = Literal["admin", "writer", "reader"]
KEY_PREFIX = "tl_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@functools.lru_cache(maxsize=256)
def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as. ``space_id`` is None for admin keys (and open servers)."""

    key_id: str | None
    role: KeyRole
    space_id: str | None

    @property
    def scope(self) -> str:
        """The namespace of this caller's idempotency keys."""
        return f"key:{self.key_id}" if self.key_id else "open"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def sees_space(self, space_id: str) -> bool:
        return self.space_id is None or self.space_id == space_id

    def require_space(self, space_id: str) -> None:
        """Reading anything in a space. Other spaces do not exist for this key."""
        if not self.sees_space(space_id):
            raise NotFound(f"space {space_id!r} does not exist")

    def require_writer(self, space_id: str) -> None:
        self.require_space(space_id)
        if self.role == "reader":
            raise Forbidden("this API key is read-only")

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("this needs an admin API key")


OPEN_PRINCIPAL = Principal(key_id=None, role="admin", space_id=None)


class KeyIdentity(TypedDict):
    """What a caller may learn about its own key: never its secret, hash or prefix."""

    object: Literal["api_key_identity"]
    key_id: str | None
    role: KeyRole
    space_id: str | None


class KeyService:
    """Creates and checks keys. Looked-up keys are trusted for ``cache_seconds``."""

    def __init__(
        self,
        store: Store,
        *,
        cache_seconds: float,
        open_when_keyless: bool,
        insecure: bool = False,
    ) -> None:
        self.store = store
        self.insecure = insecure
        self.cache_seconds = cache_seconds
        self.open_when_keyless = open_when_keyless
        self._principals: dict[str, tuple[float, Principal | None]] = {}
        self._any_keys: tuple[float, bool] | None = None

    def forget(self) -> None:
        self._principals.clear()
        self._any_keys = None

    async def auth_required(self, via_loopback: bool = True) -> bool:
        """Whether a request without a key is refused. ``via_loopback``: the request came in
        on a loopback socket (so a server bound to 0.0.0.0 outside ``threadloom serve`` is
        still closed to the network while no key exists)."""
        if not self.open_when_keyless or not (via_loopback or self.insecure):
            return True
        now = time.monotonic()
        if self._any_keys is None or now - self._any_keys[0] > self.cache_seconds:
            # Revoked keys count: revoking every key must not switch authentication off.
            keys = await self.store.count_api_keys(include_revoked=True)
            self._any_keys = (now, keys > 0)
        return self._any_keys[1]

    async def authenticate(self, key: str | None, via_loopback: bool = True) -> Principal:
        if not key:
            if await self.auth_required(via_loopback):
                raise Unauthenticated(
                    "send an API key as X-API-Key or Authorization: Bearer",
                    headers={"WWW-Authenticate": 'Bearer realm="threadloom"'},
                )
            return OPEN_PRINCIPAL
        digest = hash_key(key)
        now = time.monotonic()
        cached = self._principals.get(digest)
        if cached is None or now - cached[0] > self.cache_seconds:
            row = await self.store.find_api_key(digest)
            principal = None
            if row is not None and row["revoked_at"] is None:
                principal = Principal(row["id"], row["role"], row["space_id"])
            if len(self._principals) > 10_000:
                self._principals.clear()
            cached = (now, principal)
            self._principals[digest] = cached
        if cached[1] is None:
            raise Unauthenticated(
                "the API key is unknown or revoked",
                headers={"WWW-Authenticate": 'Bearer realm="threadloom", error="invalid_token"'},
            )
        return cached[1]

    def identify(self, principal: Principal) -> KeyIdentity:
        """The caller's own key, so a client (the web page) can open the key's space and
        offer only what its role allows. Authentication has already checked the key."""
        return {
            "object": "api_key_identity",
            "key_id": principal.key_id,
            "role": principal.role,
            "space_id": principal.space_id,
        }

    async def create(
        self, role: KeyRole, space_id: str | None, name: str | None = None
    ) -> tuple[str, ApiKeyRow]:
        """Returns the secret (shown once) and the stored record (which has only its hash)."""
        if role == "admin" and space_id is not None:
            raise ValidationFailed("an admin key is not bound to a space; omit space_id")
        if role != "admin":
            if space_id is None:
                raise ValidationFailed("a writer or reader key needs a space_id")
            if await self.store.get_space(space_id) is None:
                raise NotFound(f"space {space_id!r} does not exist")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        row = await self.store.create_api_key(
            {
                "id": new_id("key"),
                "key_hash": hash_key(key),
                "prefix": key[:10],
                "name": name,
                "role": role,
                "space_id": space_id,
            }
        )
        self.forget()
        return key, row

    async def list_keys(self) -> list[ApiKeyRow]:
        return await self.store.list_api_keys()

    async def revoke(self, key_id: str) -> None:
        if not await self.store.revoke_api_key(key_id):
            raise NotFound(f"no active API key {key_id!r}")
        self.forget()
