"""Group commit for appends: concurrent appends share one transaction, each keeping its own
result.

With a commit per append, a server's appends are bound by the commit: SQLite's BEGIN and
COMMIT take most of an append's time on the one thread that serves every request, and on
PostgreSQL the appends to one thread wait for each other's commit, since each holds the
thread's row lock until its WAL write is on disk. ``AppendBatcher`` gathers the appends that
arrive while an earlier batch is being written (or in the same turn of the event loop) and
hands them to the backend's ``append_batch`` as one unit of work.

Nothing is weakened: every caller still gets its answer only after the transaction that
holds its messages has committed, each append is numbered as one gapless run, and an append
that fails (a missing thread, a message id taken) fails alone, with the error it would have
had on its own. A caller that gives up before its batch starts writes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from ..errors import ThreadloomError
from ..models import MessageCreate
from .base import Row, Store

__all__ = [
    "AppendBatcher",
    "AppendItem",
    "BatchAppender",
    "BatchingStore",
    "append_one_by_one",
    "group_commit",
]

MAX_BATCH_MESSAGES = 500
"""At most this many messages in one batch; the rest wait for the next."""


@dataclass(frozen=True, slots=True)
class AppendItem:
    space_id: str
    thread_id: str
    messages: Sequence[MessageCreate]


AppendResult = list[Row] | Exception


class BatchAppender(Protocol):
    """A backend that can write several appends as one unit of work."""

    batch_per_thread: bool
    """True when a batch may hold appends to one thread only (each thread then has its own
    queue, and different threads are written concurrently)."""

    async def append_messages(
        self, space_id: str, thread_id: str, messages: Sequence[MessageCreate]
    ) -> list[Row]: ...

    async def append_batch(self, items: Sequence[AppendItem]) -> list[AppendResult]:
        """One result per item, in order: its stored rows, or the error its own
        ``append_messages`` call would have raised. Unexpected errors propagate."""
        ...


async def append_one_by_one(
    store: BatchAppender, items: Sequence[AppendItem]
) -> list[AppendResult]:
    """``append_batch`` done the plain way: one ``append_messages`` (one transaction) each."""
    results: list[AppendResult] = []
    for item in items:
        try:
            results.append(
                await store.append_messages(item.space_id, item.thread_id, item.messages)
            )
        except ThreadloomError as exc:
            results.append(exc)
    return results


@dataclass(slots=True)
class _Waiting:
    item: AppendItem
    future: asyncio.Future[list[Row]]


@dataclass(slots=True)
class _Queue:
    waiting: list[_Waiting] = field(default_factory=list)
    writing: bool = False


class AppendBatcher:
    def __init__(self, store: BatchAppender, max_messages: int = MAX_BATCH_MESSAGES) -> None:
        self.store = store
        self.max_messages = max_messages
        self._queues: dict[Hashable, _Queue] = {}
        self._writers: set[asyncio.Task[None]] = set()

    async def append(
        self, space_id: str, thread_id: str, messages: Sequence[MessageCreate]
    ) -> list[Row]:
        key: Hashable = (space_id, thread_id) if self.store.batch_per_thread else None
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = _Queue()
        future: asyncio.Future[list[Row]] = asyncio.get_running_loop().create_future()
        queue.waiting.append(_Waiting(AppendItem(space_id, thread_id, messages), future))
        if not queue.writing:
            # The writer's first step runs after the callbacks already due, so the appends
            # that arrive in this turn of the loop join the first batch.
            queue.writing = True
            writer = asyncio.create_task(self._write(key, queue))
            self._writers.add(writer)
            writer.add_done_callback(self._writers.discard)
        return await future

    def _next_batch(self, queue: _Queue) -> list[_Waiting]:
        batch: list[_Waiting] = []
        count = 0
        while queue.waiting:
            waiting = queue.waiting[0]
            if waiting.future.done():  # its caller gave up: nothing is written for it
                queue.waiting.pop(0)
                continue
            if batch and count + len(waiting.item.messages) > self.max_messages:
                break
            batch.append(queue.waiting.pop(0))
            count += len(waiting.item.messages)
        return batch

    async def _write(self, key: Hashable, queue: _Queue) -> None:
        batch: list[_Waiting] = []
        try:
            while batch := self._next_batch(queue):
                try:
                    results: Sequence[Any] = await self.store.append_batch(
                        [waiting.item for waiting in batch]
                    )
                except Exception as exc:  # the unit as a whole failed: each caller hears it
                    results = [exc] * len(batch)
                _settle(batch, results)
        finally:
            # Cancelled (the loop is closing): no caller may be left waiting.
            for waiting in (*batch, *queue.waiting):
                waiting.future.cancel()
            queue.waiting.clear()
            queue.writing = False
            self._queues.pop(key, None)

    async def drain(self) -> None:
        """Wait for every batch being written (before the store closes)."""
        while self._writers:
            await asyncio.gather(*list(self._writers), return_exceptions=True)


def _settle(batch: list[_Waiting], results: Sequence[Any]) -> None:
    for waiting, result in zip(batch, results, strict=True):
        if waiting.future.done():  # its caller gave up while the batch was written
            continue
        if isinstance(result, Exception):
            waiting.future.set_exception(result)
        else:
            waiting.future.set_result(result)


class BatchingStore:
    """``store`` with its appends group-committed by an ``AppendBatcher``; everything else
    passes through. For the server, where many requests append at once; the local library
    (one caller, no event loop of its own) uses the store directly."""

    def __init__(self, store: BatchAppender) -> None:
        self._store = store
        self._batcher = AppendBatcher(store)
        self.append_messages = self._batcher.append

    async def close(self) -> None:
        await self._batcher.drain()
        await self._store.close()  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> Any:
        if name == "_store":
            raise AttributeError(name)
        return getattr(self._store, name)

    def __repr__(self) -> str:
        return f"BatchingStore({self._store!r})"


def group_commit(store: Store) -> Store:
    """``store`` with group-committed appends, when its backend can write a batch."""
    if not hasattr(store, "append_batch"):
        return store
    return cast(Store, BatchingStore(cast(BatchAppender, store)))
