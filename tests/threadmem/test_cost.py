"""What an operation costs, counted rather than timed: a post is one store call (one
request, remotely) and the same few SQL statements on a thread of 10 messages or 2,000; a
tail read is one page; the version reads nothing."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.threadmem.conftest import Served
from threadloom import client as client_module
from threadloom import local
from threadloom.core.auth import OPEN_PRINCIPAL
from threadloom.models import MessageCreate
from threadloom.store import Store
from threadloom.store.sqlite.connection import SQLiteBase
from threadloom.threadmem import RoleThread

STORE_METHODS = (
    "create_thread",
    "get_thread",
    "list_threads",
    "update_thread",
    "purge_thread",
    "append_messages",
    "list_messages",
    "get_state",
    "write_state",
)
PG_ROUND_TRIPS = ("_fetch", "_fetchrow", "_fetchval", "_execute", "_transaction")
REDIS_ROUND_TRIPS = ("_eval", "_optimistic")  # a Lua script, or a WATCH/MULTI transaction


class Counts:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.statements = 0

    def reset(self) -> None:
        self.calls.clear()
        self.statements = 0


def _counting(counts: Counts, name: str, method: Callable[..., Any], *, sql: bool) -> Any:
    def counted(*args: Any, **kwargs: Any) -> Any:
        if sql:
            counts.statements += 1
        else:
            counts.calls[name] += 1
        return method(*args, **kwargs)

    return counted


def _sqlite_connection(store: Store) -> sqlite3.Connection:
    """The one connection of a SQLite store, whose statements are counted."""
    assert isinstance(store, SQLiteBase)
    conn = store._conn
    assert conn is not None
    return conn


@pytest.fixture
def counts(local_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Counts]:
    """Store calls, and SQL statements (SQLite) or round trips (PostgreSQL, Redis), of local
    mode."""
    store = local.store_for(local_db).services.store
    counts = Counts()
    for name in STORE_METHODS:
        monkeypatch.setattr(store, name, _counting(counts, name, getattr(store, name), sql=False))
    if store.backend == "sqlite":
        _sqlite_connection(store).set_trace_callback(
            lambda _sql: setattr(counts, "statements", counts.statements + 1)
        )
    else:
        round_trips = REDIS_ROUND_TRIPS if store.backend == "redis" else PG_ROUND_TRIPS
        for name in round_trips:
            method = getattr(store, name)
            monkeypatch.setattr(store, name, _counting(counts, name, method, sql=True))
    yield counts
    if store.backend == "sqlite":
        _sqlite_connection(store).set_trace_callback(None)


def _thread_of(count: int, remote: str | None = None) -> RoleThread:
    thread = RoleThread(remote=remote)
    batch = [MessageCreate(role="user", content=f"m{i}") for i in range(100)]
    for start in range(0, count, 100):
        thread._access.append_messages("default", thread.id, batch[: min(100, count - start)])
    thread.refresh()
    return thread


def _post_cost(thread: RoleThread, counts: Counts) -> tuple[dict[str, int], int]:
    counts.reset()
    thread.post("user", "one more", images=["https://x.test/a.png"], metadata={"k": 1})
    return dict(counts.calls), counts.statements


def test_a_post_costs_the_same_on_a_long_thread(counts: Counts) -> None:
    short, long = _thread_of(10), _thread_of(2000)
    assert len(long.messages(last_n=100)) == 100
    short_cost, long_cost = _post_cost(short, counts), _post_cost(long, counts)
    assert short_cost == long_cost
    calls, statements = long_cost
    assert calls == {"append_messages": 1}
    assert 1 <= statements <= 4  # SQLite: BEGIN, UPDATE ... RETURNING, INSERT, COMMIT
    assert long.messages(last_n=1)[0].text == "one more"
    store = local.store_for()
    row = store.run(store.services.threads.get(OPEN_PRINCIPAL, "default", long.id))
    assert row["message_count"] == 2001


def test_reads_are_paged(counts: Counts) -> None:
    thread = _thread_of(250)
    counts.reset()
    assert len(thread.messages(last_n=20)) == 20
    assert counts.calls == {"list_messages": 1}
    counts.reset()
    assert len(thread.messages()) == 250
    assert counts.calls == {"list_messages": 3}
    counts.reset()
    assert len(thread.messages(last_n=150)) == 150
    assert counts.calls == {"list_messages": 2}


def test_the_version_reads_nothing(counts: Counts) -> None:
    thread = _thread_of(300)
    counts.reset()
    first = thread.generate_version_hash()
    assert thread.version == first
    thread.post("user", "x")
    assert thread.version != first
    assert counts.calls == {"append_messages": 1}


@pytest.mark.server
def test_a_remote_post_is_one_request(server: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    requests: list[str] = []
    send = client_module.Client._send

    def counted(self: client_module.Client, call: Any) -> Any:
        requests.append(f"{call.method} {call.path}")
        return send(self, call)

    monkeypatch.setattr(client_module.Client, "_send", counted)
    short, long = _thread_of(10, server.url), _thread_of(2000, server.url)
    costs = []
    for thread in (short, long):
        requests.clear()
        thread.post("user", "one more", private=True, metadata={"k": 1})
        costs.append(list(requests))
    assert costs[0] == [f"POST /v1/spaces/default/threads/{short.id}/messages/batch"]
    assert costs[1] == [f"POST /v1/spaces/default/threads/{long.id}/messages/batch"]
    requests.clear()
    assert [m.text for m in long.messages(last_n=2)] == ["m99", "one more"]
    assert len(requests) == 1


def test_find_filters_in_the_store(local_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = local.store_for(local_db).services.store
    queries: list[Any] = []
    list_threads = store.list_threads

    def recorded(space_id: str, query: Any) -> Any:
        queries.append(query)
        return list_threads(space_id, query)

    monkeypatch.setattr(store, "list_threads", recorded)
    wanted = RoleThread(owner_id="o", name="n", public=True)
    RoleThread(owner_id="o", name="n")
    RoleThread(owner_id="o", name="nn", public=True)
    assert [t.id for t in RoleThread.find(owner_id="o", name="n", public=True)] == [wanted.id]
    (query,) = queries
    assert (query.owner_id, query.title, query.public) == ("o", "n", True)
