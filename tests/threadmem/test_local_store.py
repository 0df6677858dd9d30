"""``threadloom.local``: one store per database URL and process, created on first use,
closed by ``close_all``, safe to share between threads and usable from async code."""

from __future__ import annotations

import asyncio
import copy
import pickle
import threading
from pathlib import Path

import pytest

from threadloom import local
from threadloom.core.auth import OPEN_PRINCIPAL
from threadloom.models import MessageListQuery
from threadloom.threadmem import RoleThread


def test_one_store_per_url(local_db: str, tmp_path: Path) -> None:
    store = local.store_for()
    assert local.default_url() == local_db
    assert local.store_for(local_db) is store
    other_url = f"sqlite:///{tmp_path / 'other.db'}"
    other = local.store_for(other_url)  # migrated on first use
    assert other is not store
    assert other.run(other.services.store.ping()) is None
    local.close_all()
    again = local.store_for(local_db)
    assert again is not store
    assert again.run(again.services.store.ping()) is None


def test_close_is_idempotent(local_db: str) -> None:
    store = local.store_for(local_db)
    store.close()
    store.close()


def test_store_made_once_under_concurrency(local_db: str) -> None:
    made: list[local.LocalStore] = []
    barrier = threading.Barrier(4)

    def get() -> None:
        barrier.wait()
        made.append(local.store_for(local_db))

    workers = [threading.Thread(target=get) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len({id(store) for store in made}) == 1


@pytest.mark.usefixtures("local_db")
def test_threads_may_post_concurrently() -> None:
    thread = RoleThread()
    (handle,) = RoleThread.find(id=thread.id)
    errors: list[BaseException] = []

    def post(index: int) -> None:
        try:
            for n in range(25):
                (thread if index % 2 else handle).post("user", f"{index}-{n}")
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=post, args=(index,)) for index in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    store = local.store_for()
    query = MessageListQuery(limit=100, include_private=True)
    page = store.run(
        store.services.threads.list_messages(OPEN_PRINCIPAL, "default", thread.id, query)
    )
    assert [row["seq"] for row in page["data"]] == list(range(1, 101))
    assert sorted(row["content"] for row in page["data"]) == sorted(
        f"{index}-{n}" for index in range(4) for n in range(25)
    )


@pytest.mark.usefixtures("local_db")
def test_usable_from_async_code() -> None:
    async def main() -> list[str]:
        thread = RoleThread()
        thread.post("user", "from a coroutine")
        await asyncio.sleep(0)
        return [message.text for message in thread.messages()]

    assert asyncio.run(main()) == ["from a coroutine"]


def test_a_sqlite_call_that_suspends_is_refused(sqlite_url: str) -> None:
    store = local.store_for(sqlite_url)
    with pytest.raises(RuntimeError, match="suspended"):
        store.run(asyncio.sleep(0))


@pytest.mark.usefixtures("local_db")
def test_a_thread_keeps_working_after_its_store_is_closed() -> None:
    thread = RoleThread()
    thread.post("user", "before")
    first = local.store_for()
    local.close_all()
    assert first.closed
    thread.post("user", "after")  # opens the database again
    assert local.store_for() is not first
    assert not local.store_for().closed
    assert [message.text for message in thread.messages()] == ["before", "after"]


@pytest.mark.usefixtures("local_db")
def test_a_thread_survives_copy_and_pickle() -> None:
    thread = RoleThread()
    thread.post("user", "original")
    copied = copy.deepcopy(thread)
    copied.post("user", "from the copy")
    unpickled = pickle.loads(pickle.dumps(thread))
    unpickled.post("user", "from the pickle")
    assert [message.text for message in thread.messages()] == [
        "original",
        "from the copy",
        "from the pickle",
    ]
