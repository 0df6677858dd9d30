"""A reply of ``LocalAccess.chat``: ``AsyncLocalAccess.chat`` read from a blocking caller.

The reply is a task on an event loop of its own (the store's loop on PostgreSQL; on SQLite,
whose calls run inline, a loop in a thread started for replies), which puts its events on a
queue that ``events`` reads from the caller's thread. Leaving ``events`` early cancels the
task, on its loop, so stopping never races with starting; the reply's own clean-up then stops
the model and keeps what it wrote, marked incomplete, and ``events`` waits for that.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
from collections.abc import AsyncIterator, Generator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .._client.streams import ChatEvent
    from ..local import LocalStore

__all__ = ["LocalReply", "ReplyLoop"]


class ReplyLoop:
    """The loop replies run on, kept for the access's life."""

    def __init__(self, store: LocalStore) -> None:
        loop = store.loop
        self.thread: threading.Thread | None = None
        if loop is None:
            loop = asyncio.new_event_loop()
            self.thread = threading.Thread(
                target=loop.run_forever, name="threadloom-chat", daemon=True
            )
            self.thread.start()
        self.loop = loop

    def close(self, store: LocalStore) -> None:
        """Let a reply still running settle, close the providers, stop a loop of our own."""
        loop = self.loop
        asyncio.run_coroutine_threadsafe(store.services.chat.aclose(), loop).result()
        if self.thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            self.thread.join()
            loop.close()


class LocalReply:
    def __init__(self, loop: ReplyLoop, reply: AsyncIterator[ChatEvent]) -> None:
        self.loop = loop.loop
        self.reply = reply
        self.queue: queue.Queue[ChatEvent] = queue.Queue()
        self.task: asyncio.Task[None] | None = None
        self.stopped = False

    async def produce(self) -> None:
        if self.stopped:
            return
        self.task = asyncio.current_task()
        async for event in self.reply:
            self.queue.put(event)

    def stop(self) -> None:
        """On the loop: stop the reply, or stop it before it starts."""
        self.stopped = True
        if self.task is not None:
            self.task.cancel()

    def events(self) -> Generator[ChatEvent, None, None]:
        future = asyncio.run_coroutine_threadsafe(self.produce(), self.loop)
        try:
            while True:
                try:
                    event = self.queue.get(timeout=0.05)
                except queue.Empty:
                    if future.done() and self.queue.empty():
                        future.result()  # raises what failed
                        return
                    continue
                yield event
                if event.type == "done":
                    return
        finally:
            if not future.done():
                self.loop.call_soon_threadsafe(self.stop)
                concurrent.futures.wait([future])
