"""Idempotency records on PostgreSQL, written in their create's own transaction.

Before its effect, a create under a key runs ``claim_keys``: one statement that takes a
transaction-scoped advisory lock on each key (``pg_try_advisory_xact_lock``: held until the
transaction ends, dropped with the connection when its process dies) and reads the keys'
records. A key recorded already gives its recorded result (a replay, or a mismatch); a key
whose lock another transaction holds is still being created (409); any other key is free.
After the effect, ``record_results`` writes the records of the free keys, one statement for
a whole batch. A record that appeared in between (its creator committed after this
transaction's snapshot and before its lock) makes the insert find it: the transaction is
given up and run again, and then replays it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ...timestamps import utc_now
from ..idempotent import IdempotentWrite, in_progress, recorded_result

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["FREE", "KeyRecordedMeanwhile", "claim_keys", "record_results", "run_recorded"]

T = TypeVar("T")

FREE: Any = object()
"""``claim_keys``' answer for a key that is neither recorded nor being created."""

_CLAIM_SQL = """
SELECT pg_try_advisory_xact_lock(hashtextextended(k.scope || ' ' || k.key, 0)),
       r.request_hash, r.response_body
FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(scope, key, ord)
LEFT JOIN idempotency_keys r ON r.scope = k.scope AND r.key = k.key AND r.status = 'done'
ORDER BY k.ord
"""

# A 'pending' row is a claim left by a version that claimed keys before their create: it
# holds nothing, and the record takes its place.
_RECORD_SQL = """
INSERT INTO idempotency_keys AS k
    (scope, key, request_hash, status, response_body, created_at, locked_until)
SELECT x.scope, x.key, x.request_hash, 'done', x.body, $5::timestamptz, $5::timestamptz
FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[]) AS x(scope, key, request_hash, body)
ON CONFLICT (scope, key) DO UPDATE
SET request_hash = EXCLUDED.request_hash, status = 'done',
    response_body = EXCLUDED.response_body, created_at = EXCLUDED.created_at
WHERE k.status = 'pending'
"""


class KeyRecordedMeanwhile(Exception):
    """A key was recorded by another transaction after this one looked: run it again."""


async def claim_keys(conn: Connection, writes: Sequence[IdempotentWrite]) -> list[Any]:
    """For each write: ``FREE``, its recorded result, or the error to answer with."""
    rows = await conn.fetch(_CLAIM_SQL, [w.scope for w in writes], [w.key for w in writes])
    outcomes: list[Any] = []
    for write, (locked, request_hash, body) in zip(writes, rows, strict=True):
        if request_hash is not None:
            try:
                outcomes.append(recorded_result(write, request_hash, body))
            except Exception as exc:
                outcomes.append(exc)
        elif not locked:
            outcomes.append(in_progress())
        else:
            outcomes.append(FREE)
    return outcomes


async def record_results(
    conn: Connection, writes: Sequence[IdempotentWrite], results: Sequence[Any]
) -> None:
    if not writes:
        return
    status = await conn.execute(
        _RECORD_SQL,
        [w.scope for w in writes],
        [w.key for w in writes],
        [w.request_hash for w in writes],
        [w.record_body(result) for w, result in zip(writes, results, strict=True)],
        utc_now(),
    )
    if int(status.rsplit(" ", 1)[-1]) != len(writes):
        raise KeyRecordedMeanwhile


async def run_recorded(
    transaction: Callable[[], Any],
    write: IdempotentWrite,
    effect: Callable[[Connection], Awaitable[T]],
) -> T:
    """``effect`` and ``write``'s record in one transaction (or the recorded result)."""
    while True:
        try:
            async with transaction() as conn:
                (outcome,) = await claim_keys(conn, [write])
                if isinstance(outcome, Exception):
                    raise outcome
                if outcome is not FREE:
                    return outcome  # type: ignore[no-any-return]
                result = await effect(conn)
                await record_results(conn, [write], [result])
                return result
        except KeyRecordedMeanwhile:
            continue
