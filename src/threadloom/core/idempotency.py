"""Idempotent creates (IETF draft "The Idempotency-Key HTTP Header Field").

The same key with the same request gives the first response again (``Idempotent-Replayed:
true``, its status and body); with another request it is refused (422); while the first is
still running, a duplicate is told so (409 with ``Retry-After``).

The record of a create commits with the create itself, in the same transaction (see
``store.idempotent``): there is no claim beforehand and no "done" mark afterwards, so no
crash can leave a key that stored its effect but would run it again, nor a key held by a
request that died. A request that failed or died before its commit left nothing, and its
retry runs at once. Only successful creates are recorded; their response is built from the
recorded result, the same way the first time and on a replay.

A request's body is validated (by the models and the services' limits) before its create
reaches the store, so a request refused as invalid never touches its key.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import ValidationFailed
from ..store import Store
from ..store.idempotent import IdempotentWrite, in_progress, recorded_result, writing_under

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


def _canonical(body: Any) -> bytes:
    try:
        return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        # What orjson refuses (an integer beyond 64 bits, a lone surrogate, a key that is
        # not a string) still has one canonical text: the fingerprint never fails, and the
        # value is refused where it is validated, with a 422.
        text = json.dumps(body, sort_keys=True, ensure_ascii=True, default=repr)
        return b"\x00" + text.encode()


def fingerprint(method: str, path: str, body: Any) -> str:
    """The request's identity under its key; never raises, whatever the body holds."""
    return hashlib.sha256(f"{method} {path}\n".encode() + _canonical(body)).hexdigest()


@dataclass(frozen=True, slots=True)
class IdempotentResult:
    status: int
    body: bytes
    replayed: bool


class IdempotencyService:
    def __init__(self, store: Store, *, ttl_seconds: float) -> None:
        self.store = store
        self.ttl_seconds = ttl_seconds
        self._running: set[tuple[str, str]] = set()
        """The keys whose request this process is handling now: a duplicate gets 409."""

    def hold(self, scope: str, key: str) -> None:
        """Mark a key as being handled here; RequestInProgress when it already is."""
        if (scope, key) in self._running:
            raise in_progress()
        self._running.add((scope, key))

    def let_go(self, scope: str, key: str) -> None:
        self._running.discard((scope, key))

    async def recorded(self, write: IdempotentWrite) -> Any:
        """The recorded result of ``write``'s key (its create committed), or None. Raises
        IdempotencyMismatch when the key was recorded for another request."""
        record = await self.store.idempotency_lookup(write.scope, write.key)
        if record is None:
            return None
        assert record.response_body is not None
        return recorded_result(write, record.request_hash, bytes(record.response_body))

    async def run(
        self,
        scope: str,
        key: str | None,
        request_hash: str,
        handler: Callable[[], Awaitable[tuple[int, bytes]]],
    ) -> IdempotentResult:
        """Run ``handler`` with its create under ``key``: its first store create records
        its result, or returns the one recorded before (then the result is a replay)."""
        if key is None:
            status, body = await handler()
            return IdempotentResult(status, body, False)
        self.hold(scope, key)
        try:
            write = IdempotentWrite(scope, key, request_hash)
            with writing_under(write):
                status, body = await handler()
        finally:
            self.let_go(scope, key)
        return IdempotentResult(status, body, write.replayed)

    async def sweep(self) -> int:
        return await self.store.idempotency_sweep(self.ttl_seconds)
