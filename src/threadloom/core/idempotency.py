"""Idempotent creates (IETF draft "The Idempotency-Key HTTP Header Field").

The same key with the same request replays the first response; with another request it is
refused (422); while the first is still being handled, the retry is told so (409). Only
successful responses are kept: a failed create wrote nothing, so running it again is safe.
A request that died mid-way holds its key only for a short lease.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import IdempotencyMismatch, RequestInProgress, ValidationFailed
from ..store import Store

__all__ = ["IdempotencyService", "IdempotentResult", "parse_idempotency_key", "fingerprint"]

_TOKEN = re.compile(r"^[\x21-\x7e]{1,255}$")


def parse_idempotency_key(header: str | None) -> str | None:
    """Accept the draft's structured-field string (``"abc"``) and a bare token (``abc``)."""
    if header is None:
        return None
    value = header.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if not _TOKEN.match(value):
        raise ValidationFailed(
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
            errors=[{"loc": ["header", "Idempotency-Key"], "msg": "invalid idempotency key"}],
        )
    return value


def fingerprint(method: str, path: str, body: Any) -> str:
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(f"{method} {path}\n".encode() + canonical).hexdigest()


@dataclass(frozen=True, slots=True)
class IdempotentResult:
    status: int
    body: bytes
    replayed: bool


class IdempotencyService:
    def __init__(self, store: Store, *, lease_seconds: float, ttl_seconds: float) -> None:
        self.store = store
        self.lease_seconds = lease_seconds
        self.ttl_seconds = ttl_seconds

    async def begin(self, scope: str, key: str, request_hash: str) -> IdempotentResult | None:
        """Claim ``key`` for a new request (None), or the first response to replay.

        Raises when the key was used for another request or its request is still running.
        A claimed key must be settled with :meth:`complete` or :meth:`release`.
        """
        record = await self.store.idempotency_begin(scope, key, request_hash, self.lease_seconds)
        if record is None:
            return None
        if record.request_hash != request_hash:
            raise IdempotencyMismatch(
                "this Idempotency-Key was already used with a different request; "
                "use a new key for a new request"
            )
        if record.status == "pending":
            raise RequestInProgress(
                "the first request with this Idempotency-Key is still running; retry later",
                headers={"Retry-After": "1"},
            )
        assert record.response_status is not None
        assert record.response_body is not None
        return IdempotentResult(record.response_status, bytes(record.response_body), True)

    async def complete(self, scope: str, key: str, status: int, body: bytes) -> None:
        await self.store.idempotency_complete(scope, key, status, body)

    async def release(self, scope: str, key: str) -> None:
        """Forget a claimed key whose request failed: nothing was written, so a retry runs."""
        await self.store.idempotency_release(scope, key)

    async def run(
        self,
        scope: str,
        key: str | None,
        request_hash: str,
        handler: Callable[[], Awaitable[tuple[int, bytes]]],
    ) -> IdempotentResult:
        if key is None:
            status, body = await handler()
            return IdempotentResult(status, body, False)
        replay = await self.begin(scope, key, request_hash)
        if replay is not None:
            return replay
        try:
            status, body = await handler()
        except BaseException:
            await self.release(scope, key)
            raise
        await self.complete(scope, key, status, body)
        return IdempotentResult(status, body, False)

    async def sweep(self) -> int:
        return await self.store.idempotency_sweep(self.ttl_seconds)
