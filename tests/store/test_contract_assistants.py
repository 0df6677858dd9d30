"""The store contract for assistants and named leases, on every backend (SQLite and
PostgreSQL), through the public ``Store`` methods only."""

from __future__ import annotations

import asyncio
import re
from typing import Any, TypedDict, Unpack

import anyio
import pytest

from threadloom.config import Settings
from threadloom.errors import AlreadyExists, NotFound
from threadloom.models import ThreadCreate
from threadloom.store import Store, create_store
from threadloom.store.rows import AssistantChanges, AssistantFields, AssistantRow

pytestmark = pytest.mark.anyio

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
SPACE = "default"


class Extra(TypedDict, total=False):
    """``AssistantFields`` but the id, each optional: what ``create`` may override."""

    name: str
    context_tokens: int
    provider: str | None
    model: str | None
    system_prompt: str | None
    temperature: float | None
    max_tokens: int | None
    private: bool
    grants: list[str]
    unlock_salt: str | None
    unlock_hash: str | None
    unlock_words: int | None
    metadata: dict[str, Any]


async def create(
    store: Store, assistant_id: str, space_id: str = SPACE, **extra: Unpack[Extra]
) -> AssistantRow:
    fields: AssistantFields = {
        "id": assistant_id,
        "name": f"name of {assistant_id}",
        "context_tokens": 8192,
        **extra,
    }
    return await store.create_assistant(space_id, fields)


async def ids(store: Store, space_id: str = SPACE, **options: Any) -> list[str]:
    page = await store.list_assistants(space_id, 100, None, None, **options)
    assert not page.has_more
    return [row["id"] for row in page.rows]


# assistants -------------------------------------------------------------------------------


async def test_create_get_with_defaults(store: Store) -> None:
    created = await create(store, "a1")
    assert created == {
        "object": "assistant",
        "id": "a1",
        "space_id": SPACE,
        "name": "name of a1",
        "provider": None,
        "model": None,
        "system_prompt": None,
        "temperature": None,
        "max_tokens": None,
        "context_tokens": 8192,
        "private": False,
        "grants": [],
        "unlock_salt": None,
        "unlock_hash": None,
        "unlock_words": None,
        "metadata": {},
        "created_at": created["created_at"],
        "updated_at": created["created_at"],
    }
    assert TS.match(created["created_at"])
    assert await store.get_assistant(SPACE, "a1") == created
    assert await store.get_assistant(SPACE, "missing") is None


async def test_create_with_every_field(store: Store) -> None:
    created = await create(
        store,
        "a1",
        name="Ada",
        provider="openai",
        model="gpt-4o-mini",
        system_prompt="Be brief.",
        temperature=0.7,
        max_tokens=512,
        context_tokens=4096,
        private=True,
        grants=["key_1", "key_2"],
        unlock_salt="salt",
        unlock_hash="f" * 64,
        unlock_words=3,
        metadata={"team": "support", "n": 1.5},
    )
    fetched = await store.get_assistant(SPACE, "a1")
    assert fetched == created
    assert fetched["temperature"] == 0.7
    assert fetched["private"] is True
    assert fetched["grants"] == ["key_1", "key_2"]
    assert (fetched["unlock_salt"], fetched["unlock_hash"], fetched["unlock_words"]) == (
        "salt",
        "f" * 64,
        3,
    )
    assert fetched["metadata"] == {"team": "support", "n": 1.5}


async def test_duplicate_id_or_name_is_refused(store: Store) -> None:
    await create(store, "a1", name="Ada")
    with pytest.raises(AlreadyExists, match="a1"):
        await create(store, "a1", name="Other")
    with pytest.raises(AlreadyExists, match="Ada"):
        await create(store, "a2", name="Ada")
    assert await ids(store) == ["a1"]
    # Ids and names are unique per space only.
    await store.create_space("s2", "Two", {})
    await create(store, "a1", "s2", name="Ada")
    assert await ids(store, "s2") == ["a1"]


async def test_create_in_a_missing_space(store: Store) -> None:
    with pytest.raises(NotFound):
        await create(store, "a1", "nowhere")


async def test_update(store: Store) -> None:
    created = await create(store, "a1", name="Ada", temperature=0.5)
    await anyio.sleep(0.002)
    seen: list[AssistantRow] = []

    def mutate(row: AssistantRow) -> AssistantChanges:
        seen.append(row.copy())
        return {"name": "Grace", "temperature": None, "grants": ["k"], "metadata": {"x": 1}}

    updated = await store.update_assistant(SPACE, "a1", mutate)
    assert seen == [created]
    assert updated is not None
    assert updated["name"] == "Grace"
    assert updated["temperature"] is None
    assert updated["grants"] == ["k"]
    assert updated["metadata"] == {"x": 1}
    assert updated["created_at"] == created["created_at"]
    assert updated["updated_at"] > created["updated_at"]
    assert await store.get_assistant(SPACE, "a1") == updated

    unchanged = await store.update_assistant(SPACE, "a1", lambda _row: {})
    assert unchanged == updated
    assert await store.update_assistant(SPACE, "missing", lambda _row: {"name": "x"}) is None


async def test_update_to_a_taken_name_changes_nothing(store: Store) -> None:
    await create(store, "a1", name="Ada")
    await create(store, "a2", name="Grace")
    with pytest.raises(AlreadyExists, match="Ada"):
        await store.update_assistant(SPACE, "a2", lambda _row: {"name": "Ada", "model": "m"})
    kept = await store.get_assistant(SPACE, "a2")
    assert kept is not None
    assert (kept["name"], kept["model"]) == ("Grace", None)


async def test_a_refusing_mutation_writes_nothing(store: Store) -> None:
    await create(store, "a1", name="Ada")

    def refuse(_row: AssistantRow) -> AssistantChanges:
        raise NotFound("no")

    with pytest.raises(NotFound):
        await store.update_assistant(SPACE, "a1", refuse)
    fetched = await store.get_assistant(SPACE, "a1")
    assert fetched is not None
    assert fetched["name"] == "Ada"


async def test_delete(store: Store) -> None:
    await create(store, "a1")
    assert await store.delete_assistant(SPACE, "a1") is True
    assert await store.delete_assistant(SPACE, "a1") is False
    assert await store.get_assistant(SPACE, "a1") is None
    # The name is free again.
    await create(store, "a2", name="name of a1")


async def test_paging_by_id(store: Store) -> None:
    for n in (3, 1, 5, 2, 4):
        await create(store, f"a{n}")
    await store.create_space("s2", "Two", {})
    await create(store, "a0", "s2")

    first = await store.list_assistants(SPACE, 2, None, None)
    assert [r["id"] for r in first.rows] == ["a1", "a2"]
    assert first.has_more
    second = await store.list_assistants(SPACE, 2, "a2", None)
    assert [r["id"] for r in second.rows] == ["a3", "a4"]
    assert second.has_more
    last = await store.list_assistants(SPACE, 2, "a4", None)
    assert [r["id"] for r in last.rows] == ["a5"]
    assert not last.has_more
    back = await store.list_assistants(SPACE, 2, None, "a5")
    assert [r["id"] for r in back.rows] == ["a3", "a4"]
    assert back.has_more
    start = await store.list_assistants(SPACE, 2, None, "a2")
    assert [r["id"] for r in start.rows] == ["a1"]
    assert not start.has_more
    assert await ids(store, "s2") == ["a0"]
    assert await ids(store, "nowhere") == []


async def test_listing_leaves_out_private_assistants_not_granted(store: Store) -> None:
    await create(store, "open")
    await create(store, "granted", private=True, grants=["key_a", "key_b"])
    await create(store, "other", private=True, grants=["key_c"])
    await create(store, "closed", private=True)

    assert await ids(store) == ["closed", "granted", "open", "other"]
    assert await ids(store, include_private=False, granted_to="key_a") == ["granted", "open"]
    assert await ids(store, include_private=False, granted_to="key_c") == ["open", "other"]
    assert await ids(store, include_private=False, granted_to="key_") == ["open"]
    assert await ids(store, include_private=False) == ["open"]
    page = await store.list_assistants(
        SPACE, 1, "granted", None, include_private=False, granted_to="key_b"
    )
    assert [r["id"] for r in page.rows] == ["open"]
    assert not page.has_more


async def test_unlockable_assistants(store: Store) -> None:
    await create(store, "public-with-hash", unlock_salt="s", unlock_hash="h", unlock_words=2)
    await create(store, "private-no-hash", private=True)
    await create(store, "b", private=True, unlock_salt="s", unlock_hash="h", unlock_words=2)
    await create(store, "a", private=True, unlock_salt="s", unlock_hash="h", unlock_words=3)
    await store.create_space("s2", "Two", {})
    await create(store, "c", "s2", private=True, unlock_salt="s", unlock_hash="h", unlock_words=2)

    rows = await store.list_unlockable_assistants(SPACE)
    assert [row["id"] for row in rows] == ["a", "b"]
    assert rows[0]["unlock_words"] == 3
    assert [row["id"] for row in await store.list_unlockable_assistants("s2")] == ["c"]
    assert await store.list_unlockable_assistants("nowhere") == []


async def test_unlockable_assistants_are_bounded(store: Store) -> None:
    for n in range(105):
        await create(
            store, f"a{n:03}", private=True, unlock_salt="s", unlock_hash="h", unlock_words=2
        )
    rows = await store.list_unlockable_assistants(SPACE)
    assert len(rows) == 100
    assert rows[0]["id"] == "a000"


@pytest.mark.parametrize("force", [False, True])
async def test_deleting_a_space_deletes_its_assistants(store: Store, force: bool) -> None:
    await store.create_space("gone", "Gone", {})
    await create(store, "a1", "gone")
    await create(store, "a1")
    if force:
        await store.create_thread("gone", "t1", ThreadCreate(), [])
    assert await store.delete_space("gone", force=True) is True
    assert await store.get_assistant("gone", "a1") is None
    assert await ids(store, "gone") == []
    assert await ids(store) == ["a1"]
    # A new space of the same id starts empty.
    await store.create_space("gone", "Again", {})
    assert await store.list_unlockable_assistants("gone") == []
    await create(store, "a1", "gone")


# leases -----------------------------------------------------------------------------------


async def test_lease_acquire_extend_contend_release(store: Store) -> None:
    assert await store.acquire_lease("thread:t1", "run-a", 30) is None
    left = await store.acquire_lease("thread:t1", "run-b", 30)
    assert left is not None
    assert 25 < left <= 30
    # The holder extends its own lease.
    assert await store.acquire_lease("thread:t1", "run-a", 60) is None
    left = await store.acquire_lease("thread:t1", "run-b", 30)
    assert left is not None
    assert 55 < left <= 60
    # Leases are independent of each other.
    assert await store.acquire_lease("thread:t2", "run-b", 30) is None

    # Only the holder releases.
    await store.release_lease("thread:t1", "run-b")
    assert await store.acquire_lease("thread:t1", "run-b", 30) is not None
    await store.release_lease("thread:t1", "run-a")
    assert await store.acquire_lease("thread:t1", "run-b", 30) is None
    await store.release_lease("thread:t1", "run-b")
    await store.release_lease("thread:t1", "run-b")
    await store.release_lease("never", "anyone")
    assert await store.acquire_lease("thread:t1", "run-c", 30) is None


async def test_an_expired_lease_is_taken_over(store: Store) -> None:
    assert await store.acquire_lease("thread:t1", "run-a", 0.05) is None
    left = await store.acquire_lease("thread:t1", "run-b", 30)
    assert left is not None
    assert 0 < left <= 0.05
    await anyio.sleep(0.1)
    assert await store.acquire_lease("thread:t1", "run-b", 30) is None
    # The old holder has lost it: releasing does nothing, taking it again waits.
    await store.release_lease("thread:t1", "run-a")
    assert await store.acquire_lease("thread:t1", "run-a", 30) is not None


async def test_concurrent_acquires_have_one_winner(store: Store, settings: Settings) -> None:
    others = [create_store(settings) for _ in range(3)]
    for other in others:
        await other.open()
    try:
        stores = [store, *others]
        for round_ in range(3):
            name = f"thread:t{round_}"
            results = await asyncio.gather(
                *(stores[n % len(stores)].acquire_lease(name, f"run-{n}", 30) for n in range(40))
            )
            winners = [n for n, left in enumerate(results) if left is None]
            assert len(winners) == 1, results
            assert all(left is not None and 0 < left <= 30 for left in results if left)
            # The winner holds it: only it extends it.
            winner = f"run-{winners[0]}"
            assert await store.acquire_lease(name, winner, 30) is None
            assert await store.acquire_lease(name, "late", 30) is not None
    finally:
        for other in others:
            await other.close()


async def test_concurrent_acquires_from_threads_have_one_winner(
    store: Store, settings: Settings
) -> None:
    """Separate connections on separate threads, as separate processes would be."""

    def attempt(n: int) -> float | None:
        async def run() -> float | None:
            own = create_store(settings)
            await own.open()
            try:
                return await own.acquire_lease("thread:shared", f"run-{n}", 30)
            finally:
                await own.close()

        return asyncio.run(run())

    results = await asyncio.gather(*(asyncio.to_thread(attempt, n) for n in range(12)))
    assert sum(1 for left in results if left is None) == 1, results
    assert await store.acquire_lease("thread:shared", "late", 30) is not None
