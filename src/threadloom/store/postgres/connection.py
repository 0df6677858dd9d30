"""The PostgreSQL connection pool: open, close and ping, the query and transaction
helpers that turn an unreachable database into ServiceUnavailable, and the small helpers
every part of the backend shares."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg
import orjson

from ...errors import ServiceUnavailable
from ...timestamps import format_ts
from ..idempotent import take_write
from .recorded import run_recorded

__all__ = ["Pooled", "PostgresBase"]

T = TypeVar("T")

Record = asyncpg.Record
if TYPE_CHECKING:
    from typing import TypeAlias

    Pool: TypeAlias = asyncpg.Pool[asyncpg.Record]
    Connection: TypeAlias = asyncpg.pool.PoolConnectionProxy[asyncpg.Record]
    Queryable: TypeAlias = "Pooled | Connection"
    """Where a statement runs: the pool (a statement of its own) or a transaction's
    connection."""


def _wire_ts(column: str) -> str:
    """A timestamp column formatted by PostgreSQL as the wire's RFC 3339 text. Formatting
    in C costs a fraction of building a datetime and formatting it in Python, which on a
    page of rows is most of the read."""
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""


def _live(param: int, table: str = "") -> str:
    """The thread has not expired at the instant passed as parameter ``$param``. Every read
    of a thread adds it: an expired thread is missing at once, before the sweeper deletes
    it."""
    column = f"{table}.expires_at" if table else "expires_at"
    return f"({column} IS NULL OR {column} > ${param}::timestamptz)"


# Failures that mean "the database is not there right now", as opposed to a bad query.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    # Wrong credentials or database name: only ever raised while connecting.
    asyncpg.exceptions.InvalidAuthorizationSpecificationError,
    asyncpg.exceptions.InvalidCatalogNameError,
)
_CLOSE_TIMEOUT_SECONDS = 10.0


async def _keep_session(_connection: asyncpg.Connection[asyncpg.Record]) -> None:
    """Returning a connection to the pool skips asyncpg's default reset query (``RESET ALL``,
    ``UNLISTEN *``, ...): one round trip per request for nothing, since this store never
    changes session state. An open transaction is still rolled back by asyncpg itself."""


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _ts(value: datetime | None) -> str | None:
    return format_ts(value) if value is not None else None


def _count(status: str) -> int:
    """Rows touched, from a command tag such as ``DELETE 3``."""
    return int(status.rsplit(" ", 1)[-1])


async def _init_connection(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    for typename in ("jsonb", "json"):
        await conn.set_type_codec(
            typename, encoder=_dumps, decoder=orjson.loads, schema="pg_catalog"
        )


def _unavailable(exc: BaseException) -> ServiceUnavailable:
    # The DSN (and any password in it) never goes into the message.
    detail = str(exc).strip()
    reason = type(exc).__name__ + (f": {detail}" if detail else "")
    return ServiceUnavailable(f"PostgreSQL is unavailable ({reason})")


class Pooled:
    """The pool, as a place to run a statement of its own: through the store's helpers, so
    that an unreachable database is ServiceUnavailable (on a transaction's connection,
    ``_transaction`` sees to that)."""

    def __init__(self, base: PostgresBase) -> None:
        self.fetch = base._fetch
        self.fetchrow = base._fetchrow
        self.execute = base._execute


class PostgresBase:
    """The pool, and the query helpers every resource mixin runs its statements through."""

    backend = "postgres"

    def __init__(self, dsn: str, *, pool_size: int = 16) -> None:
        self._dsn = dsn
        self._pool_size = pool_size
        self._pool: Pool | None = None

    def __repr__(self) -> str:
        return f"PostgresStore(pool_size={self._pool_size})"

    # lifecycle --------------------------------------------------------------------------

    async def open(self) -> None:
        if self._pool is not None:
            return
        try:
            self._pool = await asyncpg.create_pool(
                self._dsn,
                min_size=min(2, self._pool_size),
                max_size=self._pool_size,
                init=_init_connection,
                reset=_keep_session,
                server_settings={"application_name": "threadloom"},
            )
        except _UNAVAILABLE as exc:
            raise _unavailable(exc) from exc

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), _CLOSE_TIMEOUT_SECONDS)
        except TimeoutError:
            pool.terminate()  # a query that never ends must not hold up shutdown

    async def ping(self) -> None:
        await self._fetchval("SELECT 1")

    # plumbing ---------------------------------------------------------------------------

    @property
    def _db(self) -> Pool:
        if self._pool is None:
            raise ServiceUnavailable("the PostgreSQL store is not open")
        return self._pool

    async def _fetch(self, sql: str, *args: Any) -> list[Record]:
        try:
            return await self._db.fetch(sql, *args)
        except _UNAVAILABLE as exc:
            raise _unavailable(exc) from exc

    async def _fetchrow(self, sql: str, *args: Any) -> Record | None:
        try:
            return await self._db.fetchrow(sql, *args)
        except _UNAVAILABLE as exc:
            raise _unavailable(exc) from exc

    async def _fetchval(self, sql: str, *args: Any) -> Any:
        try:
            return await self._db.fetchval(sql, *args)
        except _UNAVAILABLE as exc:
            raise _unavailable(exc) from exc

    async def _execute(self, sql: str, *args: Any) -> str:
        try:
            return await self._db.execute(sql, *args)
        except _UNAVAILABLE as exc:
            raise _unavailable(exc) from exc

    async def _queried(self, query: Awaitable[T]) -> T:
        """``query`` (statements run straight on the pool or a connection), with an
        unreachable database turned into ServiceUnavailable."""
        try:
            return await query
        except _UNAVAILABLE as exc:
            raise _unavailable(exc) from exc

    async def _created(self, effect: Callable[[Queryable], Awaitable[T]]) -> T:
        """A create: ``effect`` on the pool, or, under an Idempotency-Key, ``effect`` and the
        key's record in one transaction (see ``recorded``)."""
        write = take_write()
        if write is None:
            return await effect(Pooled(self))
        return await self._queried(run_recorded(self._transaction, write, effect))

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Connection]:
        try:
            async with self._db.acquire() as conn, conn.transaction():
                yield conn
        except _UNAVAILABLE as exc:
            raise _unavailable(exc) from exc
