"""The Redis connection pool: open, close and ping, the Lua scripts, the optimistic
(WATCH/MULTI) transaction loop, and the conversions every part of the backend shares."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar, cast

import orjson
import redis.asyncio as aioredis
from redis import exceptions as redis_errors

from ...errors import ServiceUnavailable, ValidationFailed
from ...timestamps import format_ts, parse_ts, utc_now
from ..idempotent import IdempotentWrite, recorded_result
from .keys import LUA_PRELUDE, TS_WIDTH, Keys, match_fields

if TYPE_CHECKING:
    from redis.asyncio.client import Pipeline
    from redis.commands.core import AsyncScript

__all__ = ["RedisBase", "lua"]

T = TypeVar("T")

_loads = orjson.loads

# Failures that mean "Redis is not there right now", as opposed to a bad command.
# (redis-py's ConnectionError covers refused connections, authentication and loading.)
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    OSError,
)
_CLOSE_TIMEOUT_SECONDS = 10.0
_TRANSACTION_ATTEMPTS = 500

_SCRIPTS: dict[str, str] = {}


def lua(name: str, body: str) -> str:
    """Register a script (the key-building prelude plus ``body``) under ``name``; every
    store loads all of them when it opens. Returns the name to call it by."""
    assert name not in _SCRIPTS, name
    _SCRIPTS[name] = LUA_PRELUDE + body
    return name


_INIT = lua(
    "init",
    """
-- What the migrations do on SQL: the default space, once per prefix. A store made before
-- schema 2 keeps its "1" until the thread hashes are upgraded (``_upgrade_to_2``).
if redis.call('SET', P .. ':schema', '2', 'NX') then
  local sk = space_key('default')
  if redis.call('EXISTS', sk) == 0 then
    redis.call('HSET', sk, 'name', 'Default', 'metadata', '{}', 'created_at', ARGV[2])
    redis.call('ZADD', P .. ':spaces', 0, 'default')
  end
end
return 1
""",
)


async def _upgrade_to_2(client: aioredis.Redis, keys: Keys) -> None:
    """Give every thread hash the ``match_fields`` the listing filters read now (in place
    of ``title_lc`` and the text-form ``m:KEY`` fields). Idempotent, and each hash is
    rewritten in a WATCH transaction, so a write meanwhile or another process opening the
    store at the same time is no harm."""
    head = f"{keys.prefix}:thread:"
    async for raw in client.scan_iter(match=f"{_escape_glob(head)}*", count=500):
        name = raw.decode()
        if name[len(head) :].count(":") != 1:
            continue  # a thread's messages, roles, states...
        while True:
            try:
                async with client.pipeline(transaction=True) as pipe:
                    await pipe.watch(name)
                    h = _fields(await pipe.hgetall(name))
                    if not h:
                        break
                    title = _text(h.get(b"title"))
                    fields = match_fields(title, orjson.loads(h.get(b"metadata", b"{}")))
                    old = [f for f in h if f == b"title_lc" or f.startswith(b"m:")]
                    stale = [f for f in old if f.decode() not in fields]
                    _multi(pipe)
                    if stale:
                        pipe.hdel(name, *stale)
                    if fields:
                        pipe.hset(name, mapping=cast("dict[Any, Any]", fields))
                    await pipe.execute()
                    break
            except redis_errors.WatchError:
                continue
    await client.set(keys.schema(), "2")


def _escape_glob(text: str) -> str:
    """``text`` matched literally by a SCAN pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _now() -> str:
    return format_ts(utc_now())


def _text(value: bytes | None) -> str | None:
    return value.decode() if value is not None else None


def _fields(reply: Any) -> dict[bytes, bytes]:
    """An ``HGETALL`` reply (bytes: the client never decodes)."""
    return cast("dict[bytes, bytes]", reply)


def _values(reply: Any) -> list[bytes | None]:
    """An ``HMGET`` reply."""
    return cast("list[bytes | None]", reply)


def _multi(pipe: Pipeline) -> None:
    """Start queueing the writes of a WATCH transaction."""
    pipe.multi()  # type: ignore[no-untyped-call]


def _pairs(flat: Sequence[bytes]) -> dict[bytes, bytes]:
    """A flat ``HGETALL`` reply from a script as a dict."""
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _cursor_member(cursor: tuple[str, str]) -> str:
    """A (timestamp, id) keyset cursor as an index member, with the timestamp in the stored
    fixed-width form, so that comparing members compares the tuples."""
    try:
        stamp = format_ts(parse_ts(cursor[0]))
    except (TypeError, ValueError) as exc:
        raise ValidationFailed("the page cursor holds no valid timestamp") from exc
    assert len(stamp) == TS_WIDTH
    return stamp + cursor[1]


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def _unavailable(exc: BaseException) -> ServiceUnavailable:
    # The URL (and any password in it) never goes into the message.
    detail = str(exc).strip()
    reason = type(exc).__name__ + (f": {detail}" if detail else "")
    return ServiceUnavailable(f"Redis is unavailable ({reason})")


class RedisBase:
    """The pool, the scripts, and the helpers every resource mixin runs its commands
    through."""

    backend = "redis"

    def __init__(self, url: str, *, prefix: str = "threadloom", pool_size: int = 32) -> None:
        self._url = url
        self._pool_size = pool_size
        self.keys = Keys(prefix)
        self._client: aioredis.Redis | None = None
        self._scripts: dict[str, AsyncScript] = {}

    def __repr__(self) -> str:
        return f"RedisStore(prefix={self.keys.prefix!r}, pool_size={self._pool_size})"

    # lifecycle --------------------------------------------------------------------------

    async def open(self) -> None:
        if self._client is not None:
            return
        pool = aioredis.BlockingConnectionPool.from_url(
            self._url,
            max_connections=self._pool_size,
            timeout=30,
            socket_connect_timeout=5,
            decode_responses=False,
        )
        client = aioredis.Redis(connection_pool=pool)
        scripts = {name: client.register_script(source) for name, source in _SCRIPTS.items()}
        try:
            with self._guard():
                await scripts[_INIT](args=[self.keys.prefix, _now()])
                if await client.get(self.keys.schema()) == b"1":
                    await _upgrade_to_2(client, self.keys)
        except BaseException:
            await client.aclose(close_connection_pool=True)
            raise
        self._client, self._scripts = client, scripts

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            await asyncio.wait_for(
                client.aclose(close_connection_pool=True), _CLOSE_TIMEOUT_SECONDS
            )
        except TimeoutError:
            pass  # a connection that never answers must not hold up shutdown

    async def ping(self) -> None:
        with self._guard():
            await self._redis.ping()

    # plumbing ---------------------------------------------------------------------------

    @property
    def _redis(self) -> aioredis.Redis:
        if self._client is None:
            raise ServiceUnavailable("the Redis store is not open")
        return self._client

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except _UNAVAILABLE as exc:
            raise _unavailable(exc) from exc

    def _record_args(self, write: IdempotentWrite | None) -> tuple[str, str, int]:
        """The three last arguments of a create's script: its Idempotency-Key's record."""
        if write is None:
            return "", "", 0
        key = self.keys.idempotency(write.scope, write.key)
        return key, write.request_hash, time.time_ns() // 1000

    def _recorded_args(self, write: IdempotentWrite | None, result: Any) -> tuple[Any, ...]:
        """The four last arguments of a create whose result is known before its script
        runs: the result to record, then the record's three."""
        body = orjson.dumps(result) if write is not None else b""
        return (body, *self._record_args(write))

    @staticmethod
    def _replayed(write: IdempotentWrite | None, reply: Sequence[bytes]) -> Any:
        """A script's ``{request hash, recorded result}``: the key was recorded already."""
        assert write is not None
        return recorded_result(write, reply[0].decode(), reply[1])

    async def _eval(self, name: str, *args: Any) -> Any:
        """Run a script: it gets the prefix first, then ``args``."""
        client = self._redis
        with self._guard():
            return await self._scripts[name](args=[self.keys.prefix, *args], client=client)

    async def _optimistic(self, attempt: Callable[[Pipeline], Awaitable[T]]) -> T:
        """Run ``attempt`` in a WATCH/MULTI transaction until no watched key changed under
        it. ``attempt`` watches, reads (immediately), computes, then queues its writes after
        ``pipe.multi()``; it may return early (before ``multi``) to write nothing."""
        client = self._redis
        for tries in range(_TRANSACTION_ATTEMPTS):
            with self._guard():
                async with client.pipeline(transaction=True) as pipe:
                    try:
                        return await attempt(pipe)
                    except redis_errors.WatchError:
                        pass
            if tries >= 2:
                # Many writers on one key: spread them out rather than spin.
                await asyncio.sleep(random.uniform(0, 0.001 * min(tries, 20)))
        raise ServiceUnavailable("too many concurrent writes to one resource; retry")
