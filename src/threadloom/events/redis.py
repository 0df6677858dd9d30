"""Events across server processes through Redis pub/sub (``THREADLOOM_REDIS_URL``).

Every process publishes its events to one channel and delivers what it receives from it,
its own events included, so all processes see all events once and in the same order.
Publishing never waits on Redis: events go to a bounded outbox that a background task sends
in pipelined batches. While Redis is unreachable the outbox keeps the newest events, the
listener reconnects with backoff, and writes carry on; subscribers miss what Redis missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from .hub import Event

__all__ = ["RedisTransport"]

log = logging.getLogger("threadloom.events")

BATCH = 200
MAX_BACKOFF_SECONDS = 5.0


class RedisTransport:
    fans_out = True

    def __init__(self, url: str, channel: str, *, outbox_size: int = 10_000) -> None:
        self.url = url
        self.channel = channel
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue(maxsize=outbox_size)
        self._redis: aioredis.Redis | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._dropped = 0

    async def start(self, deliver: Callable[[Event], None]) -> None:
        self._redis = aioredis.from_url(self.url)
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(self.channel)
        # Wait for Redis to confirm, so events published from now on are received.
        while await pubsub.get_message(timeout=5.0) is None:
            pass
        self._tasks = [
            asyncio.create_task(self._listen(pubsub, deliver), name="events listener"),
            asyncio.create_task(self._send_forever(), name="events sender"),
        ]

    def send(self, event: Event) -> None:
        payload = event.to_json()
        while True:
            try:
                self._outbox.put_nowait(payload)
                return
            except asyncio.QueueFull:
                self._outbox.get_nowait()  # keep the newest
                self._dropped += 1
                if self._dropped % 1000 == 1:
                    log.warning("Redis is not keeping up: %d events dropped", self._dropped)

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._flush(), timeout=2.0)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    async def _flush(self) -> None:
        while not self._outbox.empty():
            await asyncio.sleep(0.01)

    async def _send_forever(self) -> None:
        assert self._redis is not None
        backoff = 0.1
        while True:
            batch = [await self._outbox.get()]
            while len(batch) < BATCH and not self._outbox.empty():
                batch.append(self._outbox.get_nowait())
            while True:
                try:
                    async with self._redis.pipeline(transaction=False) as pipe:
                        for payload in batch:
                            pipe.publish(self.channel, payload)
                        await pipe.execute()
                    backoff = 0.1
                    break
                except (RedisError, OSError) as exc:
                    log.warning("publishing events to Redis failed (%s); retrying", exc)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def _listen(
        self, pubsub: aioredis.client.PubSub, deliver: Callable[[Event], None]
    ) -> None:
        backoff = 0.1
        while True:
            try:
                async for message in pubsub.listen():
                    if message["type"] != "message":
                        continue
                    backoff = 0.1
                    try:
                        deliver(Event.from_json(message["data"]))
                    except Exception:
                        log.exception("an event from Redis could not be delivered")
            except (RedisError, OSError) as exc:
                log.warning("the Redis event listener lost its connection (%s); reconnecting", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.subscribe(self.channel)
