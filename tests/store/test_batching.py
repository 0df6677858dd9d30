"""Group commit (store/batching.py): ``append_batch`` and ``write_state_batch`` on the
backends that share commits (SQLite and PostgreSQL), and the batcher that gathers concurrent
writes into them, each write keeping its own result. Redis has no commit to share and is left
alone."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from tests.fixtures.databases import POSTGRES, backend_url, make_settings
from tests.store.test_contract import archive
from threadloom.errors import (
    AlreadyExists,
    NotFound,
    PreconditionFailed,
    ServiceUnavailable,
    ThreadArchived,
    ValidationFailed,
)
from threadloom.models import MessageCreate, ThreadCreate
from threadloom.store import Store, create_store
from threadloom.store.base import MessageQuery
from threadloom.store.batching import (
    AppendItem,
    AppendResult,
    BatchingStore,
    BatchWriter,
    BatchWritingStore,
    StateResult,
    StateWrite,
    group_commit,
)
from threadloom.store.proxy import StoreProxy
from threadloom.store.rows import MessageRow

pytestmark = pytest.mark.anyio
SPACE = "default"


# The backends whose stores are ``BatchWritingStore``s, so ``store`` is one in this module.
@pytest.fixture(params=["sqlite", POSTGRES])
def database_url(request: pytest.FixtureRequest) -> str:
    return backend_url(request)


@pytest.mark.redis
def test_redis_writes_are_not_queued(redis_url: str, redis_prefix: str) -> None:
    settings = make_settings(database_url=redis_url, redis_prefix=redis_prefix)
    store = create_store(settings)
    assert group_commit(store) is store
    sqlite = create_store(make_settings(database_url="sqlite:///:memory:"))
    assert isinstance(group_commit(sqlite), BatchingStore)


def msg(content: str, **kwargs: Any) -> MessageCreate:
    return MessageCreate(role="user", content=content, **kwargs)


async def contents(store: Store, thread_id: str) -> list[tuple[int, str]]:
    page = await store.list_messages(SPACE, thread_id, MessageQuery(limit=100))
    assert page is not None
    return [(row["seq"], row["content"]) for row in page.rows]


async def make_thread(store: Store, thread_id: str) -> None:
    await store.create_thread(SPACE, thread_id, ThreadCreate(), ())


def appended(result: list[MessageRow] | BaseException) -> list[MessageRow]:
    """The rows of an append expected to have succeeded."""
    assert isinstance(result, list), repr(result)
    return result


class SpyStore(StoreProxy, BatchWriter):
    """The store, counting the append batches it is handed."""

    def __init__(self, store: BatchWritingStore) -> None:
        super().__init__(store)
        self.store = store
        self.batch_per_thread = store.batch_per_thread
        self.data_errors = store.data_errors
        self.batches: list[int] = []
        self.threads: list[list[str]] = []

    async def append_item(self, item: AppendItem) -> list[MessageRow]:
        return await self.store.append_item(item)

    async def write_state_batch(self, items: Sequence[StateWrite]) -> list[StateResult]:
        return await self.store.write_state_batch(items)

    async def append_batch(self, items: Sequence[AppendItem]) -> list[AppendResult]:
        self.batches.append(len(items))
        self.threads.append([item.thread_id for item in items])
        return await self.store.append_batch(items)


# append_batch: the contract ----------------------------------------------------------------


async def test_a_batch_to_one_thread_is_numbered_in_order(store: BatchWritingStore) -> None:
    await make_thread(store, "t1")
    items = [
        AppendItem(SPACE, "t1", [msg("a")]),
        AppendItem(SPACE, "t1", [msg("b"), msg("c")]),
        AppendItem(SPACE, "t1", [msg("d")]),
    ]
    results = await store.append_batch(items)
    assert [[row["seq"] for row in appended(r)] for r in results] == [[1], [2, 3], [4]]
    assert [[row["content"] for row in appended(r)] for r in results] == [
        ["a"],
        ["b", "c"],
        ["d"],
    ]
    assert await contents(store, "t1") == [(1, "a"), (2, "b"), (3, "c"), (4, "d")]
    thread = await store.get_thread(SPACE, "t1")
    assert thread is not None
    assert thread["message_count"] == 4


async def test_a_refused_append_fails_alone(store: BatchWritingStore) -> None:
    await make_thread(store, "t1")
    await store.append_messages(SPACE, "t1", [msg("first", id="taken")])
    items = [
        AppendItem(SPACE, "t1", [msg("ok 1")]),
        AppendItem(SPACE, "t1", [msg("dup", id="taken"), msg("never")]),
        AppendItem(SPACE, "t1", [msg("ok 2")]),
    ]
    results = await store.append_batch(items)
    assert isinstance(results[1], AlreadyExists)
    assert [row["content"] for row in appended(results[0])] == ["ok 1"]
    assert [row["content"] for row in appended(results[2])] == ["ok 2"]
    # Nothing of the refused append was written, and the numbers have no gap.
    assert await contents(store, "t1") == [(1, "first"), (2, "ok 1"), (3, "ok 2")]


async def test_appends_to_a_missing_or_archived_thread_fail_alone(store: BatchWritingStore) -> None:
    await make_thread(store, "old")
    await archive(store, "old")
    missing = await store.append_batch([AppendItem(SPACE, "nope", [msg("x")])])
    archived = await store.append_batch([AppendItem(SPACE, "old", [msg("x"), msg("y")])])
    assert isinstance(missing[0], NotFound)
    assert isinstance(archived[0], ThreadArchived)
    assert await contents(store, "old") == []


async def test_appends_to_several_threads_at_once(store: BatchWritingStore) -> None:
    """Store-wide backends write them in one batch; per-thread ones in one batch per thread."""
    await make_thread(store, "a")
    await make_thread(store, "b")
    spy = SpyStore(store)
    batcher = BatchingStore(spy)
    outcomes = await asyncio.gather(
        batcher.append_messages(SPACE, "a", [msg("a1")]),
        batcher.append_messages(SPACE, "b", [msg("b1")]),
        batcher.append_messages(SPACE, "missing", [msg("m")]),
        batcher.append_messages(SPACE, "a", [msg("a2")]),
        return_exceptions=True,
    )
    assert isinstance(outcomes[2], NotFound)
    assert await contents(store, "a") == [(1, "a1"), (2, "a2")]
    assert await contents(store, "b") == [(1, "b1")]
    threads_per_batch = [len(set(batch)) for batch in spy.threads]
    if store.batch_per_thread:
        assert threads_per_batch == [1, 1, 1]
    else:
        assert threads_per_batch == [3]


# the batcher --------------------------------------------------------------------------------


async def test_concurrent_appends_share_batches_and_keep_their_own_rows(
    store: BatchWritingStore,
) -> None:
    await make_thread(store, "t1")
    spy = SpyStore(store)
    batcher = BatchingStore(spy)
    results = await asyncio.gather(
        *(batcher.append_messages(SPACE, "t1", [msg(f"m{i}")]) for i in range(40))
    )
    # Each caller got its own message back, numbered without gaps or repeats.
    assert [rows[0]["content"] for rows in results] == [f"m{i}" for i in range(40)]
    assert sorted(rows[0]["seq"] for rows in results) == list(range(1, 41))
    assert sum(spy.batches) == 40
    assert len(spy.batches) < 40  # they were written together, not one by one
    assert await batcher.append_messages(SPACE, "t1", [msg("later")])  # the queue starts afresh


async def test_a_failing_append_does_not_fail_its_batch(store: BatchWritingStore) -> None:
    await make_thread(store, "t1")
    batcher = BatchingStore(SpyStore(store))
    outcomes = await asyncio.gather(
        batcher.append_messages(SPACE, "t1", [msg("a")]),
        batcher.append_messages(SPACE, "t1", [msg("b", id="same")]),
        batcher.append_messages(SPACE, "t1", [msg("c", id="same")]),
        batcher.append_messages(SPACE, "nope", [msg("d")]),
        return_exceptions=True,
    )
    assert [row["content"] for row in appended(outcomes[0])] == ["a"]
    assert [row["content"] for row in appended(outcomes[1])] == ["b"]
    assert isinstance(outcomes[2], AlreadyExists)
    assert isinstance(outcomes[3], NotFound)
    assert await contents(store, "t1") == [(1, "a"), (2, "b")]


async def test_a_caller_that_gives_up_before_its_batch_writes_nothing(
    store: BatchWritingStore,
) -> None:
    await make_thread(store, "t1")
    batcher = BatchingStore(SpyStore(store))
    kept = asyncio.ensure_future(batcher.append_messages(SPACE, "t1", [msg("kept")]))
    dropped = asyncio.ensure_future(batcher.append_messages(SPACE, "t1", [msg("dropped")]))
    await asyncio.sleep(0)  # both are queued; the writer has not started
    dropped.cancel()
    assert [row["content"] for row in await kept] == ["kept"]
    with pytest.raises(asyncio.CancelledError):
        await dropped
    assert await contents(store, "t1") == [(1, "kept")]


WRITTEN: MessageRow = {
    "object": "message",
    "id": "m1",
    "thread_id": "t",
    "seq": 1,
    "role": "user",
    "content": "y",
    "images": [],
    "private": False,
    "metadata": {},
    "created_at": "2026-01-01T00:00:00.000000Z",
}


class BrokenStore(StoreProxy, BatchWriter):
    """Append batches fail as a whole once, then write ``WRITTEN``; everything else goes
    to ``store``, which the test never uses."""

    batch_per_thread = False
    data_errors: tuple[type[Exception], ...] = ()

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.calls = 0

    async def append_messages(
        self, _space_id: str, _thread_id: str, _messages: Sequence[MessageCreate]
    ) -> list[MessageRow]:
        raise AssertionError("not used")

    async def append_item(self, _item: AppendItem) -> list[MessageRow]:
        raise AssertionError("not used")

    async def append_batch(self, items: Sequence[AppendItem]) -> list[AppendResult]:
        self.calls += 1
        await asyncio.sleep(0)
        if self.calls == 1:
            raise ServiceUnavailable("the database does not answer")
        return [[WRITTEN] for _ in items]

    async def write_state_batch(self, _items: Sequence[StateWrite]) -> list[StateResult]:
        raise AssertionError("not used")


async def test_a_batch_that_fails_as_a_whole_fails_every_caller_then_recovers() -> None:
    broken = BrokenStore(create_store(make_settings(database_url="sqlite:///:memory:")))
    batcher = BatchingStore(broken)
    outcomes = await asyncio.gather(
        *(batcher.append_messages(SPACE, "t", [msg("x")]) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(outcome, ServiceUnavailable) for outcome in outcomes)
    assert await batcher.append_messages(SPACE, "t", [msg("y")]) == [WRITTEN]


async def test_closing_waits_for_the_batch_being_written(store: BatchWritingStore) -> None:
    await make_thread(store, "t1")
    batching = group_commit(store)
    assert isinstance(batching, BatchingStore)
    pending = asyncio.ensure_future(batching.append_messages(SPACE, "t1", [msg("last")]))
    await asyncio.sleep(0)
    await batching.appends.drain()
    assert pending.done()
    assert await contents(store, "t1") == [(1, "last")]


# state writes --------------------------------------------------------------------------------


def setter(value: Any, expect: int | None = None) -> Any:
    """A state write that sets ``value``, refused (like If-Match) unless at ``expect``."""

    def mutate(_state: Any, version: int) -> Any:
        if expect is not None and version != expect:
            raise PreconditionFailed(f"at {version}, not {expect}")
        return value

    return mutate


WRITES = [
    setter({"v": 1}),
    setter({"v": 2}, expect=1),
    setter({"refused": True}, expect=1),  # the state has moved on: refused alone
    setter(None),
    setter([3], expect=3),
    setter({"v": 5}),
    setter("six"),
]


async def history_of(store: Store, thread_id: str) -> list[tuple[int, Any]]:
    page = await store.list_state_versions(SPACE, thread_id, 100, None, None)
    assert page is not None
    return [(row["version"], row["state"]) for row in page.rows]


@pytest.mark.parametrize("keep", [3, 100])
async def test_a_state_batch_ends_as_the_same_writes_one_by_one(
    store: BatchWritingStore, keep: int
) -> None:
    await make_thread(store, "alone")
    await make_thread(store, "batched")
    alone: list[Any] = []
    for mutate in WRITES:
        try:
            alone.append(await store.write_state(SPACE, "alone", mutate, keep))
        except PreconditionFailed as exc:
            alone.append(exc)
    items = [StateWrite(SPACE, "batched", mutate, keep) for mutate in WRITES]
    batched = await store.write_state_batch(items)

    def summary(results: list[Any]) -> list[Any]:
        return [
            type(r).__name__ if isinstance(r, Exception) else (r["version"], r["state"])
            for r in results
        ]

    assert summary(batched) == summary(alone)
    assert summary(batched)[2] == "PreconditionFailed"
    assert await history_of(store, "batched") == await history_of(store, "alone")
    expected = [(5, {"v": 5}), (4, [3]), (3, None), (2, {"v": 2}), (1, {"v": 1})]
    assert await history_of(store, "batched") == expected[: min(keep, 5)]
    final = await store.get_state(SPACE, "batched")
    assert final is not None
    assert (final["version"], final["state"]) == (6, "six")


async def test_state_batches_to_a_missing_or_archived_thread(store: BatchWritingStore) -> None:
    await make_thread(store, "old")
    await archive(store, "old")
    two = [setter(1), setter(2)]
    missing = await store.write_state_batch([StateWrite(SPACE, "nope", m, 5) for m in two])
    archived = await store.write_state_batch([StateWrite(SPACE, "old", m, 5) for m in two])
    assert missing == [None, None]
    assert all(isinstance(result, ThreadArchived) for result in archived)


async def test_concurrent_state_writes_through_the_store_keep_every_version(
    store: BatchWritingStore,
) -> None:
    await make_thread(store, "t1")
    batching = group_commit(store)
    rows = await asyncio.gather(
        *(batching.write_state(SPACE, "t1", setter({"n": i}), 100) for i in range(30))
    )
    written = [row for row in rows if row is not None]  # all of them: the thread exists
    assert sorted(row["version"] for row in written) == list(range(1, 31))
    history = await history_of(store, "t1")
    assert [version for version, _ in history] == list(range(29, 0, -1))
    by_version = {row["version"]: row["state"] for row in written}
    assert all(by_version[version] == state for version, state in history)


# every write fails alone, whatever the error ----------------------------------------------


def unchecked(content: str, **fields: Any) -> MessageCreate:
    """A message as the store may be handed it, past no validation at the edge."""
    return MessageCreate.model_construct(role="user", content=content, **fields)


def poisons(database_url: str) -> list[MessageCreate]:
    """Messages the backend itself cannot store."""
    bad = [unchecked("lone \ud800 surrogate"), unchecked("huge", metadata={"n": 2**70})]
    if database_url.startswith("postgres"):
        bad.append(unchecked("a NUL \x00 in text"))
    return bad


async def test_a_poisoned_batch_fails_only_its_bad_appends(
    store: BatchWritingStore, database_url: str
) -> None:
    """Bad appends among concurrent good ones to the same thread and to another space's:
    no good append fails, each bad one gets its own ValidationFailed."""
    await store.create_space("other", "Other", {})
    await make_thread(store, "t1")
    await store.create_thread("other", "t2", ThreadCreate(), ())
    batching = group_commit(store)
    bad = poisons(database_url)
    goods = [(SPACE if n % 2 else "other", "t1" if n % 2 else "t2", f"good {n}") for n in range(40)]

    async def good(space_id: str, thread_id: str, content: str) -> Any:
        return await batching.append_messages(space_id, thread_id, [msg(content)])

    async def poisoned(message: MessageCreate) -> Exception | None:
        try:
            await batching.append_messages(SPACE, "t1", [message])
        except Exception as exc:
            return exc
        return None

    results = await asyncio.gather(
        *(good(*g) for g in goods[:20]),
        *(poisoned(m) for m in bad),
        *(good(*g) for g in goods[20:]),
        return_exceptions=True,
    )
    good_results = results[:20] + results[20 + len(bad) :]
    assert [r for r in good_results if isinstance(r, BaseException)] == []
    for failure in results[20 : 20 + len(bad)]:
        assert isinstance(failure, ValidationFailed), repr(failure)
    t1 = await contents(store, "t1")
    assert [content for _, content in t1] == [c for s, _, c in goods if s == SPACE]
    assert [seq for seq, _ in t1] == list(range(1, len(t1) + 1))
    page = await store.list_messages("other", "t2", MessageQuery(limit=100))
    assert page is not None
    assert len(page.rows) == 20


async def test_a_poisoned_state_batch_fails_only_its_bad_write(store: BatchWritingStore) -> None:
    await make_thread(store, "t1")
    batching = group_commit(store)

    def setting(value: Any) -> Any:
        return lambda _state, _version: {"v": value}

    results = await asyncio.gather(
        *(batching.write_state(SPACE, "t1", setting(n), 10) for n in range(5)),
        batching.write_state(SPACE, "t1", setting(2**70), 10),
        *(batching.write_state(SPACE, "t1", setting(n), 10) for n in range(5, 10)),
        return_exceptions=True,
    )
    assert isinstance(results[5], ValidationFailed), repr(results[5])
    written = [r for i, r in enumerate(results) if i != 5]
    assert all(isinstance(r, dict) for r in written), written
    assert sorted(r["version"] for r in written if isinstance(r, dict)) == list(range(1, 11))
    state = await store.get_state(SPACE, "t1")
    assert state is not None
    assert state["version"] == 10
