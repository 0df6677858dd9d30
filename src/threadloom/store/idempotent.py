"""Idempotency records that commit with their effect.

A create made under an ``Idempotency-Key`` runs with an :class:`IdempotentWrite` in its
context (set by ``core.idempotency``). The store's create that makes the effect (an append, a
new thread, space or assistant) takes it, once, and in the effect's own transaction (or Lua
script) it first looks the key up:

* recorded with the same request: the effect is not made again; the create returns the
  result recorded the first time (``write.replayed`` is set), so the layers above build the
  same response from it;
* recorded with another request: ``IdempotencyMismatch``;
* not recorded: the effect is made, and the record (the create's result) is written in the
  same transaction. Both commit, or neither does: a request that died before its commit
  left nothing, and its retry runs at once.

There is no "pending" row, so no lease to wait out after a crash. A duplicate that arrives
while the first is still running is told so (409) by whatever the backend holds only while
the first is alive: the process's own set of running keys, and on PostgreSQL a
transaction-scoped advisory lock; SQLite's write lock and Redis's atomic scripts make the
second wait for the first's commit and then replay it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import IdempotencyMismatch, RequestInProgress, ThreadloomError, ValidationFailed

__all__ = [
    "IdempotentWrite",
    "in_progress",
    "item_failure",
    "replaying",
    "recorded_result",
    "take_write",
    "unstorable_refused",
    "writing_under",
]


@dataclass(slots=True)
class IdempotentWrite:
    scope: str
    key: str
    request_hash: str
    taken: bool = False
    """A store's create took it: its record commits with that create."""
    replayed: bool = False
    """The effect had committed before: the create returned its recorded result."""

    def record_body(self, result: Any) -> bytes:
        return orjson.dumps(result)


_CURRENT: ContextVar[IdempotentWrite | None] = ContextVar(
    "threadloom_idempotent_write", default=None
)


@contextmanager
def writing_under(write: IdempotentWrite | None) -> Iterator[None]:
    """Run the block's creates under ``write`` (None: under no key)."""
    token = _CURRENT.set(write)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def take_write() -> IdempotentWrite | None:
    """For a store's create: the key of the request it runs for. The first create takes it;
    any later create of the same request is an ordinary one."""
    write = _CURRENT.get()
    if write is None or write.taken:
        return None
    write.taken = True
    return write


def replaying() -> bool:
    """The current request's effect had committed before (nothing new to announce)."""
    write = _CURRENT.get()
    return write is not None and write.replayed


def in_progress() -> RequestInProgress:
    """The answer to a duplicate while the first request with its key is still running."""
    return RequestInProgress(
        "the first request with this Idempotency-Key is still running; retry later",
        headers={"Retry-After": "1"},
    )


def recorded_result(write: IdempotentWrite, request_hash: str, body: bytes) -> Any:
    """What a create returns when its key is recorded already (found in its transaction)."""
    if request_hash != write.request_hash:
        raise IdempotencyMismatch(
            "this Idempotency-Key was already used with a different request; "
            "use a new key for a new request"
        )
    write.replayed = True
    return orjson.loads(body)


_DATA_ERRORS: tuple[type[Exception], ...] = (UnicodeError, orjson.JSONEncodeError)


@contextmanager
def unstorable_refused(data_errors: tuple[type[Exception], ...] = ()) -> Iterator[None]:
    """Raise ValidationFailed for a value the block cannot store (see ``item_failure``)."""
    try:
        yield
    except Exception as exc:
        failure = item_failure(exc, data_errors)
        if failure is exc:
            raise
        raise failure from exc


def item_failure(exc: Exception, data_errors: tuple[type[Exception], ...] = ()) -> Exception:
    """The error one write of a batch answers with: its own ThreadloomError; a value the
    driver or the database could not store (text that is not valid Unicode, a NUL, an
    integer beyond 64 bits) as ValidationFailed; anything else as it is (that caller's 500)."""
    if isinstance(exc, ThreadloomError):
        return exc
    if isinstance(exc, (*_DATA_ERRORS, *data_errors)):
        failure = ValidationFailed(
            "the request holds a value that cannot be stored (text that is not valid "
            "Unicode, a NUL character, or an integer outside 64 bits)"
        )
        failure.__cause__ = exc
        return failure
    return exc
