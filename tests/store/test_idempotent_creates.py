"""Idempotency records commit with their create, on every backend and for every create.

Each crash point of an idempotent create is played out deterministically:

* after the commit (the response is lost): a retry with the same key returns the recorded
  result at once and makes no second effect;
* right before the commit (the record cannot be written, so the transaction rolls back):
  nothing is left, and the retry makes the one effect at once;
* between taking the key and the effect (the request fails first): nothing is left.

Group-committed appends carry their record into the batch's transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.fixtures.databases import make_settings
from threadloom.errors import IdempotencyMismatch, NotFound, RequestInProgress
from threadloom.models import MessageCreate, ThreadCreate
from threadloom.store import Store, create_store
from threadloom.store.base import MessageQuery
from threadloom.store.batching import group_commit
from threadloom.store.idempotent import IdempotentWrite, writing_under
from threadloom.store.postgres.connection import PostgresBase
from threadloom.store.postgres.recorded import FREE, claim_keys

pytestmark = pytest.mark.anyio

SPACE = "default"


class CrashBeforeCommit(Exception):
    """Raised where a process would die: after the effect, before its commit."""


@dataclass(slots=True)
class RecordFails(IdempotentWrite):
    """A key whose record cannot be written: every backend writes the record after the
    effect and before the commit, so this stands for a crash at that instant."""

    def record_body(self, result: Any) -> bytes:  # noqa: ARG002
        raise CrashBeforeCommit


def msg(content: str) -> MessageCreate:
    return MessageCreate(role="user", content=content)


async def message_count(store: Store, thread_id: str = "t") -> int:
    page = await store.list_messages(SPACE, thread_id, MessageQuery(limit=100))
    assert page is not None
    return len(page.rows)


@dataclass(frozen=True)
class Create:
    name: str
    run: Callable[[Store], Awaitable[Any]]
    effects: Callable[[Store], Awaitable[int]]
    """How many times the effect happened."""


async def _thread_exists(store: Store, thread_id: str) -> int:
    return int(await store.get_thread(SPACE, thread_id) is not None)


async def _space_exists(store: Store) -> int:
    return int(await store.get_space("idem-space") is not None)


async def _assistant_exists(store: Store) -> int:
    return int(await store.get_assistant(SPACE, "idem-asst") is not None)


CREATES = [
    Create(
        "append",
        lambda store: store.append_messages(SPACE, "t", [msg("once")]),
        message_count,
    ),
    Create(
        "batch",
        lambda store: store.append_messages(SPACE, "t", [msg("one"), msg("two")]),
        lambda store: message_count(store),
    ),
    Create(
        "thread+message",
        lambda store: store.create_thread(SPACE, "new", ThreadCreate(title="x"), [msg("first")]),
        lambda store: _thread_exists(store, "new"),
    ),
    Create(
        "space",
        lambda store: store.create_space("idem-space", "Idem", {"a": 1}),
        _space_exists,
    ),
    Create(
        "assistant",
        lambda store: store.create_assistant(
            SPACE, {"id": "idem-asst", "name": "Idem", "context_tokens": 1000}
        ),
        _assistant_exists,
    ),
]


@pytest.fixture(params=["direct", "group-commit"])
async def writer(store: Store, request: pytest.FixtureRequest) -> Store:
    """The store itself (the library), and the store as the server uses it."""
    await store.create_thread(SPACE, "t", ThreadCreate(), [])
    return store if request.param == "direct" else group_commit(store)


def _normal(result: Any) -> Any:
    """A create's result as a record keeps it (a tuple comes back as a list)."""
    return [_normal(item) for item in result] if isinstance(result, list | tuple) else result


@pytest.mark.parametrize("create", CREATES, ids=lambda c: c.name)
async def test_after_the_commit_a_retry_replays_the_one_effect(
    writer: Store, create: Create
) -> None:
    first = IdempotentWrite("scope", "key", "hash")
    with writing_under(first):
        result = await create.run(writer)  # committed; the response is lost
    assert first.taken
    assert not first.replayed
    before = await create.effects(writer)
    retry = IdempotentWrite("scope", "key", "hash")
    with writing_under(retry):
        replayed = await create.run(writer)
    assert retry.replayed
    assert _normal(replayed) == _normal(result)
    assert await create.effects(writer) == before


@pytest.mark.parametrize("create", CREATES, ids=lambda c: c.name)
async def test_a_crash_before_the_commit_leaves_nothing(
    writer: Store, create: Create, database_url: str
) -> None:
    if database_url.startswith("redis"):
        pytest.skip("on Redis a create and its record are one script: nothing lies between")
    before = await create.effects(writer)
    with writing_under(RecordFails("scope", "key", "hash")), pytest.raises(CrashBeforeCommit):
        await create.run(writer)
    assert await create.effects(writer) == before
    retry = IdempotentWrite("scope", "key", "hash")
    with writing_under(retry):
        await create.run(writer)
    assert not retry.replayed  # it ran at once, as a new request
    assert await writer.idempotency_lookup("scope", "key") is not None


async def test_a_failure_before_the_effect_leaves_the_key_free(writer: Store) -> None:
    with writing_under(IdempotentWrite("scope", "key", "hash")), pytest.raises(NotFound):
        await writer.append_messages(SPACE, "missing", [msg("x")])
    assert await writer.idempotency_lookup("scope", "key") is None
    retry = IdempotentWrite("scope", "key", "hash")
    with writing_under(retry):
        await writer.append_messages(SPACE, "t", [msg("x")])
    assert not retry.replayed
    assert await message_count(writer) == 1


async def test_another_request_under_a_recorded_key_is_refused(writer: Store) -> None:
    with writing_under(IdempotentWrite("scope", "key", "hash")):
        await writer.append_messages(SPACE, "t", [msg("x")])
    with (
        writing_under(IdempotentWrite("scope", "key", "other")),
        pytest.raises(IdempotencyMismatch),
    ):
        await writer.append_messages(SPACE, "t", [msg("y")])
    assert await message_count(writer) == 1


async def test_a_batch_commits_each_append_with_its_own_record(writer: Store) -> None:
    """Concurrent keyed appends (one batch on a group-committing store), one of them a
    retry of a recorded key: every key is recorded once, nothing is appended twice."""
    with writing_under(IdempotentWrite("scope", "k0", "h")):
        (recorded,) = await writer.append_messages(SPACE, "t", [msg("m0")])

    async def append(n: int) -> tuple[IdempotentWrite, list[Any]]:
        write = IdempotentWrite("scope", f"k{n}", "h")
        with writing_under(write):
            return write, await writer.append_messages(SPACE, "t", [msg(f"m{n}")])

    results = await asyncio.gather(*(append(n) for n in range(20)))
    assert results[0][0].replayed
    assert results[0][1] == [recorded]
    assert all(not write.replayed for write, _ in results[1:])
    assert await message_count(writer) == 20
    for n in range(20):
        assert await writer.idempotency_lookup("scope", f"k{n}") is not None
    seqs = sorted(rows[0]["seq"] for _, rows in results)
    assert seqs == list(range(1, 21))


@pytest.mark.postgres
async def test_across_postgres_processes_a_running_key_is_409_until_its_transaction_ends(
    postgres_url: str,
) -> None:
    """Two stores (two processes' pools) on one database: while one holds a key's create
    transaction open, the other's create under that key is refused as still running; once
    that transaction is gone (here its connection dies, as with its process), the other
    runs at once."""

    settings = make_settings(database_url=postgres_url)
    first, second = create_store(settings), create_store(settings)
    await first.open()
    await second.open()
    try:
        await second.create_thread(SPACE, "t", ThreadCreate(), [])
        assert isinstance(first, PostgresBase)
        pool = first._db
        conn = await pool.acquire()
        transaction = conn.transaction()
        await transaction.start()
        (claimed,) = await claim_keys(conn, [IdempotentWrite("scope", "key", "hash")])
        assert claimed is FREE  # the first request is now running its create
        with (
            writing_under(IdempotentWrite("scope", "key", "hash")),
            pytest.raises(RequestInProgress) as refused,
        ):
            await second.append_messages(SPACE, "t", [msg("duplicate")])
        assert refused.value.headers["Retry-After"] == "1"
        conn.terminate()  # the first process dies mid-transaction
        await pool.release(conn)
        retry = IdempotentWrite("scope", "key", "hash")
        with writing_under(retry):
            await second.append_messages(SPACE, "t", [msg("once")])
        assert not retry.replayed
        assert await message_count(second) == 1
    finally:
        await first.close()
        await second.close()
