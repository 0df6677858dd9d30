"""Group commit: concurrent writes share one transaction, each keeping its own result.

With a commit per write, a server's writes are bound by the commit. SQLite's BEGIN and
COMMIT take most of an append's time on the one thread that serves every request; on
PostgreSQL the writes to one thread wait for each other, since each holds the thread's row
lock until its WAL flush is on disk. A ``GroupCommitter`` gathers the writes that arrive
while an earlier batch is being written (or in the same turn of the event loop) and hands
them to the backend as one unit of work: ``append_batch`` for appends, ``write_state_batch``
for state writes.

Nothing is weakened: every caller hears back only after the transaction that holds its write
has committed; each append is numbered as one gapless run and each state write gets its own
version. A caller that gives up before its batch starts writes nothing.

Every write fails alone, whatever the error. A write that is refused (a missing thread, a
message id taken, an If-Match that no longer matches) fails with the error it would have had
on its own; one the driver or the database cannot store (a NUL on PostgreSQL, a lone
surrogate, an integer beyond 64 bits) with ValidationFailed; one that fails in a way nobody
planned with that error (its caller's 500). The backend rolls that write back alone (a
savepoint per write on SQLite; on PostgreSQL the batch's one statement is given up and each
write runs in a transaction of its own), and the other writes of the batch commit. Only when
the unit as a whole cannot be written (the database is unreachable) does every caller of
the batch hear that error.

An append made under an ``Idempotency-Key`` carries its ``IdempotentWrite`` into the batch
(``AppendItem.write``): its key's record is written in the batch's transaction, with the
append, and rolled back with it (see ``store.idempotent``).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from ..models import MessageCreate
from .base import StateMutation
from .contract import Store
from .idempotent import IdempotentWrite, item_failure, take_write
from .proxy import StoreProxy
from .rows import MessageRow, StateRow

__all__ = [
    "AppendItem",
    "BatchWriter",
    "BatchWritingStore",
    "BatchingStore",
    "GroupCommitter",
    "StateWrite",
    "append_one_by_one",
    "group_commit",
    "write_states_one_by_one",
]

MAX_BATCH_MESSAGES = 500
"""At most this many messages in one append batch; the rest wait for the next."""
MAX_BATCH_STATE_WRITES = 100


@dataclass(frozen=True, slots=True)
class AppendItem:
    space_id: str
    thread_id: str
    messages: Sequence[MessageCreate]
    write: IdempotentWrite | None = None
    """The Idempotency-Key the append is made under: its record commits with the append."""


@dataclass(frozen=True, slots=True)
class StateWrite:
    space_id: str
    thread_id: str
    mutate: StateMutation
    keep_versions: int


AppendResult = list[MessageRow] | Exception
StateResult = StateRow | None | Exception


@runtime_checkable
class BatchWriter(Protocol):
    """A backend that can write several appends, or several state writes, as one unit.
    The backends that can (SQLite, PostgreSQL) name it among their bases; ``group_commit``
    checks for it."""

    batch_per_thread: bool
    """True when an append batch may hold appends to one thread only (each thread then has
    its own queue, and different threads are written concurrently). State write batches
    always hold one thread."""

    data_errors: tuple[type[Exception], ...]
    """The driver's errors that mean "this value cannot be stored" (see ``item_failure``)."""

    async def append_item(self, item: AppendItem) -> list[MessageRow]:
        """One append (and its key's record), in a transaction of its own."""
        ...

    async def write_state(
        self, space_id: str, thread_id: str, mutate: StateMutation, keep_versions: int
    ) -> StateRow | None: ...

    async def append_batch(self, items: Sequence[AppendItem]) -> list[AppendResult]:
        """One result per item, in order: its stored rows, or its own error (as
        ``item_failure`` gives it). Only an error of the unit as a whole propagates."""
        ...

    async def write_state_batch(self, items: Sequence[StateWrite]) -> list[StateResult]:
        """Writes to one thread, applied in order: one result per item, as its own
        ``write_state`` call would have given (None for a missing thread) or raised."""
        ...


class BatchWritingStore(Store, BatchWriter, Protocol):
    """A whole store that can also write batches: what ``BatchingStore`` wraps."""


async def append_one_by_one(store: BatchWriter, items: Sequence[AppendItem]) -> list[AppendResult]:
    """``append_batch`` done the plain way: one ``append_item`` (one transaction) each."""
    results: list[AppendResult] = []
    for item in items:
        try:
            results.append(await store.append_item(item))
        except Exception as exc:
            results.append(item_failure(exc, store.data_errors))
    return results


async def write_states_one_by_one(
    store: BatchWriter, items: Sequence[StateWrite]
) -> list[StateResult]:
    """``write_state_batch`` done the plain way: one ``write_state`` each."""
    results: list[StateResult] = []
    for item in items:
        try:
            results.append(
                await store.write_state(
                    item.space_id, item.thread_id, item.mutate, item.keep_versions
                )
            )
        except Exception as exc:
            results.append(item_failure(exc, store.data_errors))
    return results


ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")


@dataclass(slots=True)
class _Waiting(Generic[ItemT, ResultT]):
    item: ItemT
    future: asyncio.Future[ResultT]


@dataclass(slots=True)
class _Queue(Generic[ItemT, ResultT]):
    waiting: deque[_Waiting[ItemT, ResultT]] = field(default_factory=deque)
    writing: bool = False


class GroupCommitter(Generic[ItemT, ResultT]):
    """Queues of writes by ``key``, each written by one task at a time in batches of up to
    ``max_size`` (counted by ``size``) through ``write``, which gives one result (or
    exception) per item."""

    def __init__(
        self,
        write: Callable[[Sequence[ItemT]], Awaitable[Sequence[ResultT | Exception]]],
        key: Callable[[ItemT], Hashable],
        size: Callable[[ItemT], int],
        max_size: int,
    ) -> None:
        self._write_batch = write
        self._key = key
        self._size = size
        self.max_size = max_size
        self._queues: dict[Hashable, _Queue[ItemT, ResultT]] = {}
        self._writers: set[asyncio.Task[None]] = set()

    async def submit(self, item: ItemT) -> ResultT:
        key = self._key(item)
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = _Queue()
        future: asyncio.Future[ResultT] = asyncio.get_running_loop().create_future()
        queue.waiting.append(_Waiting(item, future))
        if not queue.writing:
            # The writer's first step runs after the callbacks already due, so the writes
            # that arrive in this turn of the loop join the first batch.
            queue.writing = True
            # In a context of its own: nothing of this caller's (its Idempotency-Key) may
            # leak into the writes of the others.
            writer = asyncio.create_task(self._write(key, queue), context=contextvars.Context())
            self._writers.add(writer)
            writer.add_done_callback(self._writers.discard)
        return await future

    def _next_batch(self, queue: _Queue[ItemT, ResultT]) -> list[_Waiting[ItemT, ResultT]]:
        batch: list[_Waiting[ItemT, ResultT]] = []
        size = 0
        while queue.waiting:
            waiting = queue.waiting[0]
            if waiting.future.done():  # its caller gave up: nothing is written for it
                queue.waiting.popleft()
                continue
            if batch and size + self._size(waiting.item) > self.max_size:
                break
            batch.append(queue.waiting.popleft())
            size += self._size(waiting.item)
        return batch

    async def _write(self, key: Hashable, queue: _Queue[ItemT, ResultT]) -> None:
        batch: list[_Waiting[ItemT, ResultT]] = []
        try:
            while batch := self._next_batch(queue):
                try:
                    results: Sequence[Any] = await self._write_batch(
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
        """Wait for every batch being written."""
        while self._writers:
            await asyncio.gather(*list(self._writers), return_exceptions=True)


def _settle(batch: Sequence[_Waiting[Any, Any]], results: Sequence[Any]) -> None:
    for waiting, result in zip(batch, results, strict=True):
        if waiting.future.done():  # its caller gave up while the batch was written
            continue
        if isinstance(result, Exception):
            waiting.future.set_exception(result)
        else:
            waiting.future.set_result(result)


class BatchingStore(StoreProxy):
    """``store`` with its appends and state writes group-committed; everything else passes
    through. For the server, where many requests write at once; the local library (one
    caller, no event loop of its own) uses the store directly."""

    def __init__(self, store: BatchWritingStore) -> None:
        super().__init__(store)
        per_thread = store.batch_per_thread
        self.appends: GroupCommitter[AppendItem, list[MessageRow]] = GroupCommitter(
            store.append_batch,
            key=lambda item: (item.space_id, item.thread_id) if per_thread else None,
            size=lambda item: len(item.messages),
            max_size=MAX_BATCH_MESSAGES,
        )
        self.state_writes: GroupCommitter[StateWrite, StateRow | None] = GroupCommitter(
            store.write_state_batch,
            key=lambda item: (item.space_id, item.thread_id),
            size=lambda _item: 1,
            max_size=MAX_BATCH_STATE_WRITES,
        )

    async def append_messages(
        self, space_id: str, thread_id: str, messages: Sequence[MessageCreate]
    ) -> list[MessageRow]:
        return await self.appends.submit(AppendItem(space_id, thread_id, messages, take_write()))

    async def write_state(
        self, space_id: str, thread_id: str, mutate: StateMutation, keep_versions: int
    ) -> StateRow | None:
        return await self.state_writes.submit(
            StateWrite(space_id, thread_id, mutate, keep_versions)
        )

    async def close(self) -> None:
        await self.appends.drain()
        await self.state_writes.drain()
        await self._store.close()


def group_commit(store: Store) -> Store:
    """``store`` with group-committed writes, when its backend can write batches. Redis
    cannot and need not: each write there is one script with no commit to share, and
    queueing its writes would only make them wait for each other."""
    if not isinstance(store, BatchWriter):
        return store
    return BatchingStore(store)
