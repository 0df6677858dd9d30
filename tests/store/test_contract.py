"""The store contract: the same tests against every backend (SQLite, PostgreSQL and Redis:
``database_url`` in tests/store/conftest.py names them).

Each test goes through the public ``Store`` methods only, so it states what any backend
must do, not how one of them does it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Any, Literal

import anyio
import orjson
import pytest

from threadloom.config import Settings
from threadloom.errors import (
    AlreadyExists,
    Conflict,
    NotFound,
    ServiceUnavailable,
    ThreadArchived,
)
from threadloom.models import MessageCreate, Role, ThreadCreate
from threadloom.models.keys import KeyRole
from threadloom.store import Store, create_store
from threadloom.store.base import IdempotencyRecord, MessageQuery, ThreadQuery
from threadloom.store.idempotent import IdempotentWrite, writing_under
from threadloom.store.rows import (
    MessageRow,
    NewApiKey,
    SpaceChanges,
    SpaceRow,
    ThreadChanges,
    ThreadRow,
)
from threadloom.timestamps import format_ts, utc_now

pytestmark = pytest.mark.anyio

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
SPACE = "default"


# helpers ----------------------------------------------------------------------------------


def msg(content: str = "hi", role: str = "user", **kwargs: Any) -> MessageCreate:
    return MessageCreate(role=role, content=content, **kwargs)


async def new_thread(
    store: Store,
    thread_id: str,
    *,
    space_id: str = SPACE,
    messages: Sequence[MessageCreate] = (),
    **fields: Any,
) -> ThreadRow:
    row, _ = await store.create_thread(space_id, thread_id, ThreadCreate(**fields), messages)
    return row


async def archive(store: Store, thread_id: str, space_id: str = SPACE) -> ThreadRow:
    row = await store.update_thread(
        space_id,
        thread_id,
        lambda _row: {"status": "archived", "archived_at": format_ts(utc_now())},
    )
    assert row is not None
    return row


async def thread_ids(store: Store, **query: Any) -> list[str]:
    query.setdefault("limit", 100)
    page = await store.list_threads(SPACE, ThreadQuery(**query))
    assert not page.has_more
    return [row["id"] for row in page.rows]


async def all_messages(store: Store, thread_id: str, **query: Any) -> list[MessageRow]:
    query.setdefault("limit", 1000)
    page = await store.list_messages(SPACE, thread_id, MessageQuery(**query))
    assert page is not None
    assert not page.has_more
    return page.rows


def cursor(row: ThreadRow, order_by: Literal["created_at", "updated_at"]) -> tuple[str, str]:
    return (row[order_by], row["id"])


# lifecycle --------------------------------------------------------------------------------


async def test_ping(store: Store) -> None:
    await store.ping()


async def test_unopened_store_is_unavailable(settings: Settings) -> None:
    closed = create_store(settings)
    with pytest.raises(ServiceUnavailable):
        await closed.ping()
    await closed.open()
    await closed.ping()
    await closed.close()
    with pytest.raises(ServiceUnavailable):
        await closed.get_space(SPACE)


# spaces -----------------------------------------------------------------------------------


async def test_space_crud(store: Store) -> None:
    created = await store.create_space("s1", "One", {"tier": "gold", "n": 2})
    assert created["object"] == "space"
    assert created["id"] == "s1"
    assert created["name"] == "One"
    assert created["metadata"] == {"tier": "gold", "n": 2}
    assert TS.match(created["created_at"])
    assert await store.get_space("s1") == created
    assert await store.get_space("missing") is None

    with pytest.raises(AlreadyExists):
        await store.create_space("s1", "Again", {})
    assert await store.get_space("s1") == created

    seen: list[SpaceRow] = []

    def mutate(space: SpaceRow) -> SpaceChanges:
        seen.append(space.copy())
        return {"name": "Uno", "metadata": {"tier": "silver"}}

    updated = await store.update_space("s1", mutate)
    assert seen == [created]
    assert updated == {**created, "name": "Uno", "metadata": {"tier": "silver"}}
    assert await store.get_space("s1") == updated
    assert await store.update_space("missing", mutate) is None

    assert await store.delete_space("s1", force=False) is True
    assert await store.get_space("s1") is None
    assert await store.delete_space("s1", force=False) is False
    assert await store.delete_space("s1", force=True) is False


async def test_delete_space_with_threads(store: Store) -> None:
    await store.create_space("busy", "Busy", {})
    await new_thread(store, "t1", space_id="busy", messages=[msg()])
    await store.create_api_key(
        {
            "id": "key_busy",
            "key_hash": "h-busy",
            "prefix": "tl_b",
            "name": None,
            "role": "reader",
            "space_id": "busy",
        }
    )
    with pytest.raises(Conflict, match="still has threads"):
        await store.delete_space("busy", force=False)
    assert await store.get_thread("busy", "t1") is not None

    assert await store.delete_space("busy", force=True) is True
    assert await store.get_space("busy") is None
    assert await store.get_thread("busy", "t1") is None
    assert await store.find_api_key("h-busy") is None
    # The space can be created again, empty.
    await store.create_space("busy", "Busy again", {})
    assert (await store.list_threads("busy", ThreadQuery(limit=10, status="all"))).rows == []


async def test_list_spaces_paging(store: Store) -> None:
    for i in range(1, 8):
        await store.create_space(f"s{i}", f"Space {i}", {"i": i})
    expected = ["default", *(f"s{i}" for i in range(1, 8))]

    page = await store.list_spaces(100, None, None, None)
    assert [s["id"] for s in page.rows] == expected
    assert not page.has_more
    assert page.rows[1] == await store.get_space("s1")

    got: list[str] = []
    after: str | None = None
    while True:
        page = await store.list_spaces(3, after, None, None)
        got += [s["id"] for s in page.rows]
        if not page.has_more:
            break
        after = page.rows[-1]["id"]
    assert got == expected

    got = []
    before: str | None = expected[-1]
    while before is not None:
        page = await store.list_spaces(3, None, before, None)
        got = [s["id"] for s in page.rows] + got
        before = page.rows[0]["id"] if page.has_more else None
    assert got == expected[:-1]

    only = await store.list_spaces(10, None, None, "s4")
    assert [s["id"] for s in only.rows] == ["s4"]
    assert (await store.list_spaces(10, None, None, "nope")).rows == []


# threads ----------------------------------------------------------------------------------


async def test_create_and_get_thread(store: Store) -> None:
    spec = ThreadCreate(
        title="Hello",
        owner_id="u1",
        public=True,
        metadata={"a": 1, "nested": {"b": [1, 2]}},
        state={"step": 1},
        role_mapping={"assistant": Role(name="Ada", icon="https://x/ada.png")},
    )
    row, stored = await store.create_thread(
        SPACE, "t1", spec, [msg("one"), msg("two", role="assistant", private=True)]
    )
    assert row["object"] == "thread"
    assert row["id"] == "t1"
    assert row["space_id"] == SPACE
    assert row["title"] == "Hello"
    assert row["owner_id"] == "u1"
    assert row["public"] is True
    assert row["status"] == "active"
    assert row["metadata"] == {"a": 1, "nested": {"b": [1, 2]}}
    assert row["state"] == {"step": 1}
    assert row["state_version"] == 1
    assert row["role_mapping"]["assistant"]["name"] == "Ada"
    assert row["role_mapping"]["assistant"]["icon"] == "https://x/ada.png"
    assert row["message_count"] == 2
    assert TS.match(row["created_at"])
    assert row["updated_at"] == row["created_at"]
    assert row["archived_at"] is None
    assert await store.get_thread(SPACE, "t1") == row

    assert [m["seq"] for m in stored] == [1, 2]
    assert [m["content"] for m in stored] == ["one", "two"]
    assert stored[1]["private"] is True
    assert all(m["thread_id"] == "t1" and m["created_at"] == row["created_at"] for m in stored)
    assert await all_messages(store, "t1", include_private=True) == stored

    bare, none = await store.create_thread(SPACE, "t2", ThreadCreate(), [])
    assert none == []
    assert bare["state"] is None
    assert bare["state_version"] == 0
    assert bare["message_count"] == 0
    assert bare["public"] is False
    assert bare["metadata"] == {}
    assert bare["role_mapping"] == {}
    assert await store.get_thread(SPACE, "t2") == bare

    assert await store.get_thread(SPACE, "missing") is None
    await store.create_space("other", "Other", {})
    assert await store.get_thread("other", "t1") is None


async def test_create_thread_errors(store: Store) -> None:
    await new_thread(store, "t1", title="first", messages=[msg()])
    with pytest.raises(AlreadyExists):
        await new_thread(store, "t1", title="second", messages=[msg("dup")])
    kept = await store.get_thread(SPACE, "t1")
    assert kept is not None
    assert kept["title"] == "first"
    assert kept["message_count"] == 1
    assert [m["content"] for m in await all_messages(store, "t1")] == ["hi"]

    with pytest.raises(NotFound):
        await new_thread(store, "t2", space_id="nowhere", messages=[msg()])

    # The same thread id in another space is another thread.
    await store.create_space("other", "Other", {})
    await new_thread(store, "t1", space_id="other")
    other = await store.get_thread("other", "t1")
    assert other is not None
    assert other["message_count"] == 0


async def test_list_threads_filters(store: Store) -> None:
    await new_thread(store, "t1", owner_id="alice", metadata={"n": 5, "flag": True, "kind": "a"})
    await new_thread(store, "t2", owner_id="bob", metadata={"n": 6, "flag": False, "kind": "b"})
    await new_thread(store, "t3", owner_id="alice", metadata={"n": 1.5, "kind": "5"})
    await new_thread(store, "t4", metadata={"n": "5", "flag": "true"})
    await new_thread(store, "t5", owner_id="alice", metadata={"n": 5})
    await archive(store, "t5")
    await store.create_space("other", "Other", {})
    await new_thread(store, "t9", space_id="other", owner_id="alice", metadata={"n": 5})

    order: dict[str, Any] = {"order_by": "created_at", "order": "asc"}
    assert await thread_ids(store, **order) == ["t1", "t2", "t3", "t4"]
    assert await thread_ids(store, status="active", **order) == ["t1", "t2", "t3", "t4"]
    assert await thread_ids(store, status="archived", **order) == ["t5"]
    assert await thread_ids(store, status="all", **order) == ["t1", "t2", "t3", "t4", "t5"]

    assert await thread_ids(store, owner_id="alice", **order) == ["t1", "t3"]
    assert await thread_ids(store, owner_id="alice", status="all", **order) == ["t1", "t3", "t5"]
    assert await thread_ids(store, owner_id="nobody", **order) == []

    # Metadata matches the text form of the value: numbers, booleans and strings alike.
    assert await thread_ids(store, metadata=[("n", "5")], **order) == ["t1", "t4"]
    assert await thread_ids(store, metadata=[("n", "1.5")], **order) == ["t3"]
    assert await thread_ids(store, metadata=[("n", "6")], **order) == ["t2"]
    assert await thread_ids(store, metadata=[("flag", "true")], **order) == ["t1", "t4"]
    assert await thread_ids(store, metadata=[("flag", "false")], **order) == ["t2"]
    assert await thread_ids(store, metadata=[("kind", "a")], **order) == ["t1"]
    assert await thread_ids(store, metadata=[("kind", "5")], **order) == ["t3"]
    assert await thread_ids(store, metadata=[("missing", "5")], **order) == []
    assert await thread_ids(store, metadata=[("n", "5"), ("flag", "true")], **order) == [
        "t1",
        "t4",
    ]
    assert await thread_ids(store, metadata=[("n", "5"), ("kind", "a")], **order) == ["t1"]
    assert await thread_ids(store, metadata=[("n", "5")], status="all", **order) == [
        "t1",
        "t4",
        "t5",
    ]
    assert await thread_ids(
        store, metadata=[("n", "5")], owner_id="alice", status="all", **order
    ) == ["t1", "t5"]


async def test_list_threads_title_search(store: Store) -> None:
    titles = {
        "t1": "100% sure",
        "t2": "100 percent",
        "t3": "snake_case",
        "t4": "snakeXcase",
        "t5": "Hello World",
        "t6": "back\\slash",
        "t7": "backslash",
        "t8": None,
    }
    for thread_id, title in titles.items():
        await new_thread(store, thread_id, title=title)
    order: dict[str, Any] = {"order_by": "created_at", "order": "asc"}
    assert await thread_ids(store, q="%", **order) == ["t1"]
    assert await thread_ids(store, q="0%", **order) == ["t1"]
    assert await thread_ids(store, q="_", **order) == ["t3"]
    assert await thread_ids(store, q="e_c", **order) == ["t3"]
    assert await thread_ids(store, q="\\", **order) == ["t6"]
    assert await thread_ids(store, q="hello", **order) == ["t5"]
    assert await thread_ids(store, q="WORLD", **order) == ["t5"]
    assert await thread_ids(store, q="100", **order) == ["t1", "t2"]
    assert await thread_ids(store, q="snake", **order) == ["t3", "t4"]
    assert await thread_ids(store, q="nothing like it", **order) == []
    assert await thread_ids(store, q="", **order) == list(titles)


async def _updated_threads(store: Store) -> list[ThreadRow]:
    """Seven threads whose updated_at order differs from their created_at order."""
    for i in range(1, 8):
        await new_thread(store, f"t{i}", title=f"thread {i}")
    for thread_id in ("t4", "t1", "t6"):
        await store.update_thread(SPACE, thread_id, lambda _row: {"title": "touched"})
    await store.append_messages(SPACE, "t2", [msg()])
    rows = []
    for i in range(1, 8):
        row = await store.get_thread(SPACE, f"t{i}")
        assert row is not None
        rows.append(row)
    return rows


@pytest.mark.parametrize("order_by", ["created_at", "updated_at"])
@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_list_threads_ordering(
    store: Store,
    order_by: Literal["created_at", "updated_at"],
    order: Literal["asc", "desc"],
) -> None:
    rows = await _updated_threads(store)
    expected = sorted(rows, key=lambda r: cursor(r, order_by), reverse=order == "desc")
    page = await store.list_threads(SPACE, ThreadQuery(limit=50, order_by=order_by, order=order))
    assert page.rows == expected
    assert not page.has_more

    by_created = [r["id"] for r in sorted(rows, key=lambda r: cursor(r, "created_at"))]
    by_updated = [r["id"] for r in sorted(rows, key=lambda r: cursor(r, "updated_at"))]
    assert by_created == [f"t{i}" for i in range(1, 8)]
    assert by_updated[-4:] == ["t4", "t1", "t6", "t2"]


async def test_list_threads_default_order_is_recently_updated_first(store: Store) -> None:
    await _updated_threads(store)
    assert (await thread_ids(store))[:4] == ["t2", "t6", "t1", "t4"]


@pytest.mark.parametrize("order_by", ["created_at", "updated_at"])
@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_list_threads_keyset_paging(
    store: Store,
    order_by: Literal["created_at", "updated_at"],
    order: Literal["asc", "desc"],
) -> None:
    rows = await _updated_threads(store)
    expected = [
        r["id"] for r in sorted(rows, key=lambda r: cursor(r, order_by), reverse=order == "desc")
    ]

    def query(**kw: Any) -> ThreadQuery:
        return ThreadQuery(limit=3, order_by=order_by, order=order, **kw)

    # Forwards with "after": pages of 3, 3, 1.
    got: list[str] = []
    sizes = []
    page = await store.list_threads(SPACE, query())
    while True:
        got += [r["id"] for r in page.rows]
        sizes.append(len(page.rows))
        if not page.has_more:
            break
        page = await store.list_threads(SPACE, query(after=cursor(page.rows[-1], order_by)))
    assert got == expected
    assert sizes == [3, 3, 1]

    # Backwards with "before" from the last row: each page keeps the requested order.
    last = next(r for r in rows if r["id"] == expected[-1])
    got = []
    before: tuple[str, str] | None = cursor(last, order_by)
    while before is not None:
        page = await store.list_threads(SPACE, query(before=before))
        ids = [r["id"] for r in page.rows]
        assert ids == [i for i in expected if i in ids]
        got = ids + got
        before = cursor(page.rows[0], order_by) if page.has_more else None
    assert got == expected[:-1]

    # A page in the middle, both ways round.
    middle = next(r for r in rows if r["id"] == expected[3])
    after_page = await store.list_threads(SPACE, query(after=cursor(middle, order_by)))
    assert [r["id"] for r in after_page.rows] == expected[4:7]
    assert not after_page.has_more
    before_page = await store.list_threads(SPACE, query(before=cursor(middle, order_by)))
    assert [r["id"] for r in before_page.rows] == expected[0:3]
    assert not before_page.has_more


async def test_thread_cursor_compares_timestamp_then_id(store: Store) -> None:
    """A cursor is a (timestamp, id) pair compared as a whole, so rows sharing a timestamp
    page by id: a cursor with a row's timestamp and an id below (above) every id includes
    that row when paging after (before) it."""
    for thread_id in ("b", "d", "a", "e", "c"):
        await new_thread(store, thread_id)
    rows = [await store.get_thread(SPACE, i) for i in ("a", "b", "c", "d", "e")]
    assert all(rows)
    by_created = sorted((r for r in rows if r), key=lambda r: cursor(r, "created_at"))
    pivot = by_created[2]
    page = await store.list_threads(
        SPACE,
        ThreadQuery(limit=10, order_by="created_at", order="asc", after=(pivot["created_at"], "")),
    )
    # The empty id sorts before every id, so the pivot row itself is included.
    assert [r["id"] for r in page.rows] == [r["id"] for r in by_created[2:]]
    page = await store.list_threads(
        SPACE,
        ThreadQuery(
            limit=10, order_by="created_at", order="asc", before=(pivot["created_at"], "~")
        ),
    )
    assert [r["id"] for r in page.rows] == [r["id"] for r in by_created[:3]]


async def test_update_thread(store: Store) -> None:
    original = await new_thread(store, "t1", title="old", metadata={"k": 1})
    await anyio.sleep(0.001)
    seen: list[ThreadRow] = []

    def mutate(row: ThreadRow) -> ThreadChanges:
        seen.append(row.copy())
        return {
            "title": "new",
            "metadata": {"k": 2, "x": "y"},
            "public": True,
            "owner_id": "carol",
            "role_mapping": {"user": {"name": "Carol"}},
        }

    updated = await store.update_thread(SPACE, "t1", mutate)
    assert seen == [original]
    assert updated is not None
    assert updated["title"] == "new"
    assert updated["metadata"] == {"k": 2, "x": "y"}
    assert updated["public"] is True
    assert updated["owner_id"] == "carol"
    assert updated["role_mapping"] == {"user": {"name": "Carol"}}
    assert updated["created_at"] == original["created_at"]
    assert TS.match(updated["updated_at"])
    assert updated["updated_at"] > original["updated_at"]
    assert await store.get_thread(SPACE, "t1") == updated

    unchanged = await store.update_thread(SPACE, "t1", lambda _row: {})
    assert unchanged == updated
    assert await store.get_thread(SPACE, "t1") == updated

    archived = await archive(store, "t1")
    assert archived["status"] == "archived"
    archived_at = archived["archived_at"]
    assert archived_at is not None
    assert TS.match(archived_at)
    assert await store.get_thread(SPACE, "t1") == archived

    restored = await store.update_thread(
        SPACE, "t1", lambda _row: {"status": "active", "archived_at": None}
    )
    assert restored is not None
    assert restored["status"] == "active"
    assert restored["archived_at"] is None
    assert await store.get_thread(SPACE, "t1") == restored

    assert await store.update_thread(SPACE, "missing", mutate) is None


async def test_purge_thread_removes_its_messages_and_state(store: Store) -> None:
    await new_thread(store, "t1", state={"v": 1}, messages=[msg("a"), msg("b")])
    await store.write_state(SPACE, "t1", lambda _s, _v: {"v": 2}, 10)
    await new_thread(store, "keep", messages=[msg("stays")])

    assert await store.purge_thread(SPACE, "t1") is True
    assert await store.get_thread(SPACE, "t1") is None
    assert await store.list_messages(SPACE, "t1", MessageQuery(limit=10)) is None
    assert await store.get_state(SPACE, "t1") is None
    assert await store.purge_thread(SPACE, "t1") is False

    # A new thread with the same id starts from nothing.
    await new_thread(store, "t1")
    assert await all_messages(store, "t1", include_private=True) == []
    history = await store.list_state_versions(SPACE, "t1", 10, None, None)
    assert history is not None
    assert history.rows == []
    appended = await store.append_messages(SPACE, "t1", [msg("fresh")])
    assert [m["seq"] for m in appended] == [1]

    assert [m["content"] for m in await all_messages(store, "keep")] == ["stays"]


# messages ---------------------------------------------------------------------------------


async def test_append_messages(store: Store) -> None:
    created = await new_thread(store, "t1", messages=[msg("first")])
    await anyio.sleep(0.001)
    batch = await store.append_messages(
        SPACE,
        "t1",
        [
            msg("second", role="assistant", images=["https://x/a.png"], metadata={"k": 1}),
            msg("third", private=True),
            msg("fourth", role="tool"),
        ],
    )
    assert [m["seq"] for m in batch] == [2, 3, 4]
    assert [m["content"] for m in batch] == ["second", "third", "fourth"]
    first = batch[0]
    assert first["object"] == "message"
    assert first["thread_id"] == "t1"
    assert first["role"] == "assistant"
    assert first["images"] == ["https://x/a.png"]
    assert first["metadata"] == {"k": 1}
    assert first["private"] is False
    assert batch[1]["private"] is True
    assert TS.match(first["created_at"])
    assert len({m["id"] for m in batch}) == 3
    assert all(m["created_at"] == first["created_at"] for m in batch)

    single = await store.append_messages(SPACE, "t1", [msg("fifth")])
    assert [m["seq"] for m in single] == [5]

    listed = await all_messages(store, "t1", include_private=True)
    assert [m["seq"] for m in listed] == [1, 2, 3, 4, 5]
    assert listed[1:] == batch + single

    thread = await store.get_thread(SPACE, "t1")
    assert thread is not None
    assert thread["message_count"] == 5
    assert thread["updated_at"] == single[0]["created_at"]
    assert thread["updated_at"] > created["updated_at"]


async def test_append_messages_errors(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.append_messages(SPACE, "missing", [msg()])
    await store.create_space("other", "Other", {})
    await new_thread(store, "t1", space_id="other")
    with pytest.raises(NotFound):
        await store.append_messages(SPACE, "t1", [msg()])

    await new_thread(store, "t2", messages=[msg()])
    await archive(store, "t2")
    with pytest.raises(ThreadArchived):
        await store.append_messages(SPACE, "t2", [msg("refused")])
    with pytest.raises(ThreadArchived):
        await store.append_messages(SPACE, "t2", [])
    thread = await store.get_thread(SPACE, "t2")
    assert thread is not None
    assert thread["message_count"] == 1
    assert [m["content"] for m in await all_messages(store, "t2")] == ["hi"]

    await store.update_thread(SPACE, "t2", lambda _row: {"status": "active", "archived_at": None})
    appended = await store.append_messages(SPACE, "t2", [msg("back")])
    assert [m["seq"] for m in appended] == [2]


async def test_list_messages(store: Store) -> None:
    await new_thread(
        store,
        "t1",
        messages=[
            msg("m1"),
            msg("m2", role="assistant"),
            msg("m3", private=True),
            msg("m4", role="assistant", private=True),
            msg("m5"),
            msg("m6", role="assistant"),
        ],
    )

    def contents(rows: list[MessageRow]) -> list[str]:
        return [m["content"] for m in rows]

    assert contents(await all_messages(store, "t1")) == ["m1", "m2", "m5", "m6"]
    everything = await all_messages(store, "t1", include_private=True)
    assert contents(everything) == ["m1", "m2", "m3", "m4", "m5", "m6"]
    assert contents(await all_messages(store, "t1", order="desc")) == ["m6", "m5", "m2", "m1"]
    assert contents(await all_messages(store, "t1", role="assistant")) == ["m2", "m6"]
    assert contents(
        await all_messages(store, "t1", role="assistant", include_private=True, order="desc")
    ) == ["m6", "m4", "m2"]
    assert await all_messages(store, "t1", role="system") == []

    assert contents(await all_messages(store, "t1", after_seq=2)) == ["m5", "m6"]
    assert contents(await all_messages(store, "t1", after_seq=5, order="desc")) == ["m2", "m1"]
    assert contents(await all_messages(store, "t1", before_seq=5)) == ["m1", "m2"]
    assert contents(await all_messages(store, "t1", before_seq=2, order="desc")) == ["m6", "m5"]
    assert contents(
        await all_messages(store, "t1", after_seq=1, include_private=True, role="assistant")
    ) == ["m2", "m4", "m6"]

    page = await store.list_messages(SPACE, "t1", MessageQuery(limit=2, include_private=True))
    assert page is not None
    assert contents(page.rows) == ["m1", "m2"]
    assert page.has_more
    assert page.rows == everything[:2]

    await new_thread(store, "empty")
    empty = await store.list_messages(SPACE, "empty", MessageQuery(limit=10))
    assert empty is not None
    assert empty.rows == []
    assert not empty.has_more

    assert await store.list_messages(SPACE, "missing", MessageQuery(limit=10)) is None
    await store.create_space("other", "Other", {})
    assert await store.list_messages("other", "t1", MessageQuery(limit=10)) is None


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_list_messages_keyset_paging(store: Store, order: Literal["asc", "desc"]) -> None:
    await new_thread(store, "t1", messages=[msg(f"m{i}") for i in range(1, 11)])
    await new_thread(store, "t2", messages=[msg("noise")])
    expected = list(range(1, 11)) if order == "asc" else list(range(10, 0, -1))

    got: list[int] = []
    after: int | None = None
    while True:
        page = await store.list_messages(
            SPACE, "t1", MessageQuery(limit=4, order=order, after_seq=after)
        )
        assert page is not None
        got += [m["seq"] for m in page.rows]
        if not page.has_more:
            break
        after = page.rows[-1]["seq"]
    assert got == expected

    got = []
    before: int | None = expected[-1]
    while before is not None:
        page = await store.list_messages(
            SPACE, "t1", MessageQuery(limit=4, order=order, before_seq=before)
        )
        assert page is not None
        seqs = [m["seq"] for m in page.rows]
        assert seqs == sorted(seqs, reverse=order == "desc")
        got = seqs + got
        before = page.rows[0]["seq"] if page.has_more else None
    assert got == expected[:-1]


# state ------------------------------------------------------------------------------------


async def test_state_write_and_get(store: Store) -> None:
    await new_thread(store, "t1")
    initial = await store.get_state(SPACE, "t1")
    assert initial == {
        "object": "thread.state",
        "thread_id": "t1",
        "state": None,
        "version": 0,
        "updated_at": None,
    }

    calls: list[tuple[Any, int]] = []

    def mutate(state: Any, version: int) -> Any:
        calls.append((state, version))
        return {"count": version + 1, "items": ["a"] * (version + 1)}

    first = await store.write_state(SPACE, "t1", mutate, 10)
    assert first is not None
    assert first["version"] == 1
    assert first["state"] == {"count": 1, "items": ["a"]}
    updated_at = first["updated_at"]
    assert updated_at is not None
    assert TS.match(updated_at)
    assert await store.get_state(SPACE, "t1") == first

    second = await store.write_state(SPACE, "t1", mutate, 10)
    assert second is not None
    assert second["version"] == 2
    assert calls == [(None, 0), ({"count": 1, "items": ["a"]}, 1)]
    assert await store.get_state(SPACE, "t1") == second

    thread = await store.get_thread(SPACE, "t1")
    assert thread is not None
    assert thread["state"] == second["state"]
    assert thread["state_version"] == 2
    assert thread["updated_at"] == second["updated_at"]

    assert await store.write_state(SPACE, "missing", mutate, 10) is None
    assert await store.get_state(SPACE, "missing") is None


@pytest.mark.parametrize(
    "value",
    [
        "text",
        "42",
        True,
        False,
        None,
        [1, {"x": None}],
        {"deep": {"er": [True, 1.5, "ü"]}},
        {},
        3,
        0,
        -2.5,
    ],
    ids=repr,
)
async def test_state_is_any_json_value(store: Store, value: Any) -> None:
    await new_thread(store, "t1", state={"before": 1})
    written = await store.write_state(SPACE, "t1", lambda _s, _v: value, 10)
    assert written is not None
    assert written["state"] == value
    got = await store.get_state(SPACE, "t1")
    assert got is not None
    assert got["state"] == value
    thread = await store.get_thread(SPACE, "t1")
    assert thread is not None
    assert thread["state"] == value

    await store.write_state(SPACE, "t1", lambda _s, _v: {"after": 1}, 10)
    history = await store.list_state_versions(SPACE, "t1", 10, None, None)
    assert history is not None
    assert [(h["version"], h["state"]) for h in history.rows] == [
        (2, value),
        (1, {"before": 1}),
    ]

    # And a thread can be created with it.
    created, _ = await store.create_thread(SPACE, "t2", ThreadCreate(state=value), [])
    assert await store.get_thread(SPACE, "t2") == created


async def test_state_refused_on_archived_thread(store: Store) -> None:
    await new_thread(store, "t1", state={"v": 1})
    await archive(store, "t1")

    def mutate(_state: Any, _version: int) -> Any:
        raise AssertionError("must not be called on an archived thread")

    with pytest.raises(ThreadArchived):
        await store.write_state(SPACE, "t1", mutate, 10)
    state = await store.get_state(SPACE, "t1")
    assert state is not None
    assert state["state"] == {"v": 1}
    assert state["version"] == 1


async def test_state_mutation_can_refuse(store: Store) -> None:
    await new_thread(store, "t1", state={"v": 1})

    def refuse(_state: Any, _version: int) -> Any:
        raise Conflict("no")

    with pytest.raises(Conflict):
        await store.write_state(SPACE, "t1", refuse, 10)
    state = await store.get_state(SPACE, "t1")
    assert state is not None
    assert (state["state"], state["version"]) == ({"v": 1}, 1)
    history = await store.list_state_versions(SPACE, "t1", 10, None, None)
    assert history is not None
    assert history.rows == []
    # The thread is not left locked.
    assert await store.write_state(SPACE, "t1", lambda _s, _v: {"v": 2}, 10) is not None


async def test_state_history_and_pruning(store: Store) -> None:
    created = await new_thread(store, "t1", state={"v": 1})
    assert created["state_version"] == 1
    # When each version was written.
    written: dict[int, str | None] = {1: created["created_at"]}
    for v in range(2, 8):

        def write(_state: Any, _version: int, v: int = v) -> dict[str, int]:
            return {"v": v}

        row = await store.write_state(SPACE, "t1", write, 3)
        assert row is not None
        assert row["version"] == v
        written[v] = row["updated_at"]

    history = await store.list_state_versions(SPACE, "t1", 10, None, None)
    assert history is not None
    assert not history.has_more
    # Newest first; only the last 3 previous versions are kept.
    assert [h["version"] for h in history.rows] == [6, 5, 4]
    for h in history.rows:
        assert h["object"] == "thread.state.version"
        assert h["state"] == {"v": h["version"]}
        # A version was created when it was written.
        assert h["created_at"] == written[h["version"]]

    state = await store.get_state(SPACE, "t1")
    assert state is not None
    assert (state["state"], state["version"]) == ({"v": 7}, 7)

    # Paging: "after" walks towards older versions, "before" towards newer ones.
    page = await store.list_state_versions(SPACE, "t1", 2, None, None)
    assert page is not None
    assert [h["version"] for h in page.rows] == [6, 5]
    assert page.has_more
    page = await store.list_state_versions(SPACE, "t1", 2, 5, None)
    assert page is not None
    assert [h["version"] for h in page.rows] == [4]
    assert not page.has_more
    page = await store.list_state_versions(SPACE, "t1", 1, None, 4)
    assert page is not None
    assert [h["version"] for h in page.rows] == [5]
    assert page.has_more
    page = await store.list_state_versions(SPACE, "t1", 5, None, 4)
    assert page is not None
    assert [h["version"] for h in page.rows] == [6, 5]
    assert not page.has_more

    assert await store.list_state_versions(SPACE, "missing", 10, None, None) is None


async def test_state_history_skips_version_zero(store: Store) -> None:
    await new_thread(store, "t1")
    await store.write_state(SPACE, "t1", lambda _s, _v: {"v": 1}, 5)
    history = await store.list_state_versions(SPACE, "t1", 10, None, None)
    assert history is not None
    assert history.rows == []
    await store.write_state(SPACE, "t1", lambda _s, _v: None, 5)
    history = await store.list_state_versions(SPACE, "t1", 10, None, None)
    assert history is not None
    assert [(h["version"], h["state"]) for h in history.rows] == [(1, {"v": 1})]
    await store.write_state(SPACE, "t1", lambda _s, _v: {"v": 3}, 5)
    history = await store.list_state_versions(SPACE, "t1", 10, None, None)
    assert history is not None
    assert [(h["version"], h["state"]) for h in history.rows] == [(2, None), (1, {"v": 1})]


# API keys ---------------------------------------------------------------------------------


def key_row(
    key_id: str, key_hash: str, role: KeyRole = "writer", space_id: str | None = None
) -> NewApiKey:
    return {
        "id": key_id,
        "key_hash": key_hash,
        "prefix": f"tl_{key_id[-4:]}",
        "name": f"name of {key_id}",
        "role": role,
        "space_id": space_id,
    }


async def test_api_keys(store: Store) -> None:
    assert await store.count_api_keys() == 0
    assert await store.list_api_keys() == []

    b = await store.create_api_key(key_row("key_b", "hash-b", "admin"))
    assert b == {
        "object": "api_key",
        "id": "key_b",
        "name": "name of key_b",
        "role": "admin",
        "space_id": None,
        "prefix": "tl_ey_b",
        "created_at": b["created_at"],
        "revoked_at": None,
    }
    assert TS.match(b["created_at"])
    assert "key_hash" not in b
    a = await store.create_api_key(key_row("key_a", "hash-a", "reader", SPACE))
    assert a["space_id"] == SPACE
    assert a["role"] == "reader"
    c = await store.create_api_key({**key_row("key_c", "hash-c"), "name": None})
    assert c["name"] is None

    assert await store.find_api_key("hash-a") == a
    assert await store.find_api_key("hash-b") == b
    assert await store.find_api_key("nope") is None
    assert await store.list_api_keys() == [a, b, c]
    assert await store.count_api_keys() == 3

    assert await store.revoke_api_key("key_b") is True
    assert await store.revoke_api_key("key_b") is False
    assert await store.revoke_api_key("missing") is False
    revoked = await store.find_api_key("hash-b")
    assert revoked is not None
    revoked_at = revoked["revoked_at"]
    assert revoked_at is not None
    assert TS.match(revoked_at)
    assert revoked == {**b, "revoked_at": revoked["revoked_at"]}
    assert await store.count_api_keys() == 2
    assert [k["id"] for k in await store.list_api_keys()] == ["key_a", "key_b", "key_c"]


# idempotency ------------------------------------------------------------------------------


async def test_idempotency_records_commit_with_the_create(store: Store) -> None:
    """See tests/store/test_idempotent_creates.py for every create and the crash points."""
    await new_thread(store, "t1")
    write = IdempotentWrite("key_1", "k1", "hash-1")
    with writing_under(write):
        (first,) = await store.append_messages(SPACE, "t1", [msg("once")])
    assert write.taken
    assert not write.replayed
    record = await store.idempotency_lookup("key_1", "k1")
    assert isinstance(record, IdempotencyRecord)
    assert record.request_hash == "hash-1"
    assert record.status == "done"
    assert orjson.loads(record.response_body or b"") == [first]
    # Scopes are separate: the same key under another scope is another record.
    assert await store.idempotency_lookup("key_2", "k1") is None


async def test_idempotency_sweep(store: Store) -> None:
    await new_thread(store, "t1")
    for key in ("old-1", "old-2"):
        with writing_under(IdempotentWrite("s", key, "h")):
            await store.append_messages(SPACE, "t1", [msg(key)])
    await anyio.sleep(0.6)
    with writing_under(IdempotentWrite("s", "new", "h")):
        await store.append_messages(SPACE, "t1", [msg("new")])

    assert await store.idempotency_sweep(3600) == 0
    assert await store.idempotency_sweep(0.3) == 2
    assert await store.idempotency_sweep(0.3) == 0
    # Swept keys are free again; the recent one is still there.
    assert await store.idempotency_lookup("s", "old-1") is None
    assert await store.idempotency_lookup("s", "new") is not None
    await anyio.sleep(0.01)
    assert await store.idempotency_sweep(0) == 1


# concurrency ------------------------------------------------------------------------------


async def test_concurrent_appends_are_gapless(store: Store) -> None:
    await new_thread(store, "t1")
    results = await asyncio.gather(
        *(store.append_messages(SPACE, "t1", [msg(f"m{i}")]) for i in range(200))
    )
    seqs = sorted(rows[0]["seq"] for rows in results)
    assert seqs == list(range(1, 201))
    thread = await store.get_thread(SPACE, "t1")
    assert thread is not None
    assert thread["message_count"] == 200
    listed = await all_messages(store, "t1")
    assert [m["seq"] for m in listed] == list(range(1, 201))
    assert sorted(m["content"] for m in listed) == sorted(f"m{i}" for i in range(200))


async def test_concurrent_batches_stay_contiguous(store: Store) -> None:
    await new_thread(store, "t1", messages=[msg("seed")])
    await new_thread(store, "t2")
    batches = await asyncio.gather(
        *(
            store.append_messages(SPACE, f"t{1 + i % 2}", [msg(f"b{i}.{j}") for j in range(3)])
            for i in range(60)
        )
    )
    for rows in batches:
        seqs = [m["seq"] for m in rows]
        assert seqs == list(range(seqs[0], seqs[0] + 3))
        assert [m["content"].split(".")[1] for m in rows] == ["0", "1", "2"]
    for thread_id, total in (("t1", 91), ("t2", 90)):
        listed = await all_messages(store, thread_id)
        assert [m["seq"] for m in listed] == list(range(1, total + 1))
        thread = await store.get_thread(SPACE, thread_id)
        assert thread is not None
        assert thread["message_count"] == total


async def test_concurrent_state_writes_lose_nothing(store: Store) -> None:
    await new_thread(store, "t1", state={"n": 0})
    await asyncio.gather(
        *(store.write_state(SPACE, "t1", lambda s, _v: {"n": s["n"] + 1}, 1000) for _ in range(50))
    )
    state = await store.get_state(SPACE, "t1")
    assert state is not None
    assert state["state"] == {"n": 50}
    assert state["version"] == 51
    history = await store.list_state_versions(SPACE, "t1", 100, None, None)
    assert history is not None
    assert [h["state"]["n"] for h in history.rows] == list(range(49, -1, -1))


# client-chosen message ids ----------------------------------------------------------------


async def test_a_message_keeps_a_client_chosen_id(store: Store) -> None:
    await new_thread(store, "t1")
    [stored] = await store.append_messages(SPACE, "t1", [msg(id="m-1")])
    assert stored["id"] == "m-1"
    page = await store.list_messages(SPACE, "t1", MessageQuery(limit=10))
    assert page is not None
    assert [m["id"] for m in page.rows] == ["m-1"]


async def test_a_taken_message_id_writes_nothing(store: Store) -> None:
    await new_thread(store, "t1", messages=[msg(id="m-1")])
    with pytest.raises(AlreadyExists):
        await store.append_messages(SPACE, "t1", [msg(id="m-2"), msg(id="m-1")])
    with pytest.raises(AlreadyExists):
        await store.append_messages(SPACE, "t1", [msg(id="m-3"), msg(id="m-3")])
    thread = await store.get_thread(SPACE, "t1")
    assert thread is not None
    assert thread["message_count"] == 1
    [appended] = await store.append_messages(SPACE, "t1", [msg(id="m-2")])
    assert appended["seq"] == 2, "a refused batch must not use up sequence numbers"


async def test_message_ids_are_unique_per_thread_only(store: Store) -> None:
    await new_thread(store, "t1", messages=[msg(id="same")])
    await new_thread(store, "t2", messages=[msg(id="same")])
    await store.create_space("other", "Other", {})
    await new_thread(store, "t1", space_id="other", messages=[msg(id="same")])


async def test_a_new_thread_with_repeated_message_ids_is_not_created(store: Store) -> None:
    with pytest.raises(AlreadyExists, match="message"):
        await new_thread(store, "t1", messages=[msg(id="x"), msg(id="x")])
    assert await store.get_thread(SPACE, "t1") is None


async def test_threads_filter_by_exact_title_and_public(store: Store) -> None:
    await new_thread(store, "a", title="Billing", public=True)
    await new_thread(store, "b", title="Billing", public=False)
    await new_thread(store, "c", title="Billing question", public=True)

    async def ids(**filters: Any) -> list[str]:
        page = await store.list_threads(SPACE, ThreadQuery(limit=10, order="asc", **filters))
        return sorted(row["id"] for row in page.rows)

    assert await ids(title="Billing") == ["a", "b"]
    assert await ids(public=True) == ["a", "c"]
    assert await ids(public=False) == ["b"]
    assert await ids(title="Billing", public=True) == ["a"]
    assert await ids(title="billing") == []
