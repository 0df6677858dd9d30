"""``threadloom.access``: the same operations give the same answers in all four of its forms
(local and remote, blocking and asyncio), on every backend. Remote means a real server
process over loopback, with an admin key; local means the services on the same database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.servers import start_server, stop_server
from threadloom import local
from threadloom._threadmem.schemas import V1Role
from threadloom.access import (
    Access,
    AsyncAccess,
    AsyncRemoteAccess,
    RemoteAccess,
    aconnect,
    apages,
    connect,
    pages,
)
from threadloom.access.local import AsyncLocalAccess, LocalAccess
from threadloom.errors import Conflict, NotFound, PreconditionFailed
from threadloom.models import (
    MessageCreate,
    MessageListQuery,
    PageQuery,
    SpaceCreate,
    ThreadCreate,
    ThreadListQuery,
    ThreadUpdate,
)

pytestmark = pytest.mark.anyio

Transcript = list[Any]
ROLE = V1Role(name="ada", user_id="u-1", user_name="Ada", icon="a.png")
MESSAGES = [
    MessageCreate(id="m-1", role="user", content="one"),
    MessageCreate(id="m-2", role="assistant", content="two", private=True),
    MessageCreate(id="m-3", role="user", content="three", metadata={"k": 1}),
]


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A real server on ``database_url`` and an admin key of it."""
    with connect(database_url=database_url) as access:
        key = access.create_key("admin", None, "access tests").key
    live = start_server(database_url, tmp_path, env={"THREADLOOM_KEY_CACHE_SECONDS": "0"})
    yield live.url, key
    stop_server(live)
    local.close_all()


def _thread(thread: Any) -> Any:
    return (
        thread.id,
        thread.title,
        thread.status,
        thread.metadata,
        thread.message_count,
        thread.state_version,
    )


def _messages(page: Any) -> Any:
    return ([(m.id, m.role, m.content, m.private, m.metadata) for m in page.data], page.has_more)


def exercise(access: Access, space: str) -> Transcript:
    """Every operation once, and what it answered (without ids and times that differ)."""
    seen: Transcript = []
    seen.append(access.create_space(SpaceCreate(id=space, name="Access")).name)
    body = ThreadCreate(id="t-1", title="First", metadata={"k": "v"})
    seen.append(_thread(access.create_thread(space, body)))
    added = access.append_messages(space, "t-1", MESSAGES)
    seen.append([(m.id, m.seq) for m in added])
    seen.append(_messages(access.list_messages(space, "t-1", MessageListQuery())))
    everything = MessageListQuery(include_private=True, order="desc", limit=2)
    page = access.list_messages(space, "t-1", everything)
    seen.append(_messages(page))
    after = everything.model_copy(update={"after": page.last_id})
    seen.append(_messages(access.list_messages(space, "t-1", after)))
    one = access.get_message(space, "t-1", "m-3")
    seen.append((one.id, one.seq, one.content, one.metadata))
    access.append_messages(space, "t-1", [MessageCreate(id="m-4", content="four")])
    access.delete_message(space, "t-1", "m-4")
    with pytest.raises(NotFound):
        access.get_message(space, "t-1", "m-4")
    seen.append(_thread(access.get_thread(space, "t-1")))
    seen.append(_thread(access.update_thread(space, "t-1", ThreadUpdate(title="Renamed"))))
    seen.append(_thread(access.set_archived(space, "t-1", True)))
    seen.append([t.id for t in access.list_threads(space, ThreadListQuery()).data])
    everyone = ThreadListQuery(status="all")
    seen.append([t.id for t in access.list_threads(space, everyone).data])
    seen.append(_thread(access.set_archived(space, "t-1", False)))
    for n in range(3):
        access.create_thread(space, ThreadCreate(id=f"p-{n}"))
    by_creation = ThreadListQuery(order_by="created_at", order="asc", limit=2)
    walked = pages(
        lambda cursor: access.list_threads(space, by_creation.model_copy(update={"after": cursor}))
    )
    seen.append([t.id for t in walked])

    state = access.put_state(space, "t-1", {"a": 1}, None)
    state = access.patch_state(space, "t-1", {"b": 2}, state.version)
    seen.append((state.state, state.version, access.get_state(space, "t-1").state))
    with pytest.raises(PreconditionFailed):
        access.put_state(space, "t-1", {}, 1)

    access.create_thread("default", ThreadCreate(id=f"roles-{space}"))
    access.add_role(f"roles-{space}", ROLE)
    with pytest.raises(Conflict) as exists:
        access.add_role(f"roles-{space}", ROLE)
    seen.append(type(exists.value).__name__)
    seen.append(sorted(access.get_thread("default", f"roles-{space}").role_mapping))
    access.remove_role(f"roles-{space}", "ada")
    with pytest.raises(NotFound):
        access.remove_role(f"roles-{space}", "ada")
    access.purge_thread("default", f"roles-{space}")

    created = access.create_key("reader", space, "reader of " + space)
    seen.append((created.role, created.space_id == space, created.key.startswith("tl_")))
    assert created.id in [key.id for key in access.list_keys()]
    access.revoke_key(created.id)
    (revoked,) = [key for key in access.list_keys() if key.id == created.id]
    assert revoked.revoked_at is not None
    with pytest.raises(NotFound):
        access.revoke_key(created.id)

    seen.append([a.id for a in access.list_assistants(space, PageQuery()).data])
    events = [event.type for event in access.chat(space, "t-1", "hello", None)]
    seen.append((events[0], events[-1], set(events[1:-1])))
    stopped = access.chat(space, "t-1", "stop me", None)
    seen.append(next(stopped).type)
    stopped.close()
    # The question is kept; the reply too if the model had written any of it (a race).
    asked = MessageListQuery(order="desc", limit=1, role="user")
    seen.append(access.list_messages(space, "t-1", asked).data[0].content)

    spaces = pages(lambda cursor: access.list_spaces(PageQuery(after=cursor)))
    seen.append(space in [s.id for s in spaces])
    access.purge_thread(space, "t-1")
    with pytest.raises(NotFound):
        access.get_thread(space, "t-1")
    access.delete_space(space, force=True)
    with pytest.raises(NotFound):
        access.delete_space(space, force=True)
    return seen


async def aexercise(access: AsyncAccess, space: str) -> Transcript:
    """``exercise`` for ``AsyncAccess``: the same calls, awaited."""
    seen: Transcript = []
    seen.append((await access.create_space(SpaceCreate(id=space, name="Access"))).name)
    body = ThreadCreate(id="t-1", title="First", metadata={"k": "v"})
    seen.append(_thread(await access.create_thread(space, body)))
    added = await access.append_messages(space, "t-1", MESSAGES)
    seen.append([(m.id, m.seq) for m in added])
    seen.append(_messages(await access.list_messages(space, "t-1", MessageListQuery())))
    everything = MessageListQuery(include_private=True, order="desc", limit=2)
    page = await access.list_messages(space, "t-1", everything)
    seen.append(_messages(page))
    after = everything.model_copy(update={"after": page.last_id})
    seen.append(_messages(await access.list_messages(space, "t-1", after)))
    one = await access.get_message(space, "t-1", "m-3")
    seen.append((one.id, one.seq, one.content, one.metadata))
    await access.append_messages(space, "t-1", [MessageCreate(id="m-4", content="four")])
    await access.delete_message(space, "t-1", "m-4")
    with pytest.raises(NotFound):
        await access.get_message(space, "t-1", "m-4")
    seen.append(_thread(await access.get_thread(space, "t-1")))
    seen.append(_thread(await access.update_thread(space, "t-1", ThreadUpdate(title="Renamed"))))
    seen.append(_thread(await access.set_archived(space, "t-1", True)))
    seen.append([t.id for t in (await access.list_threads(space, ThreadListQuery())).data])
    everyone = ThreadListQuery(status="all")
    seen.append([t.id for t in (await access.list_threads(space, everyone)).data])
    seen.append(_thread(await access.set_archived(space, "t-1", False)))
    for n in range(3):
        await access.create_thread(space, ThreadCreate(id=f"p-{n}"))
    by_creation = ThreadListQuery(order_by="created_at", order="asc", limit=2)
    walked = apages(
        lambda cursor: access.list_threads(space, by_creation.model_copy(update={"after": cursor}))
    )
    seen.append([t.id async for t in walked])

    state = await access.put_state(space, "t-1", {"a": 1}, None)
    state = await access.patch_state(space, "t-1", {"b": 2}, state.version)
    seen.append((state.state, state.version, (await access.get_state(space, "t-1")).state))
    with pytest.raises(PreconditionFailed):
        await access.put_state(space, "t-1", {}, 1)

    await access.create_thread("default", ThreadCreate(id=f"roles-{space}"))
    await access.add_role(f"roles-{space}", ROLE)
    with pytest.raises(Conflict) as exists:
        await access.add_role(f"roles-{space}", ROLE)
    seen.append(type(exists.value).__name__)
    seen.append(sorted((await access.get_thread("default", f"roles-{space}")).role_mapping))
    await access.remove_role(f"roles-{space}", "ada")
    with pytest.raises(NotFound):
        await access.remove_role(f"roles-{space}", "ada")
    await access.purge_thread("default", f"roles-{space}")

    created = await access.create_key("reader", space, "reader of " + space)
    seen.append((created.role, created.space_id == space, created.key.startswith("tl_")))
    assert created.id in [key.id for key in await access.list_keys()]
    await access.revoke_key(created.id)
    (revoked,) = [key for key in await access.list_keys() if key.id == created.id]
    assert revoked.revoked_at is not None
    with pytest.raises(NotFound):
        await access.revoke_key(created.id)

    seen.append([a.id for a in (await access.list_assistants(space, PageQuery())).data])
    events = [event.type async for event in access.chat(space, "t-1", "hello", None)]
    seen.append((events[0], events[-1], set(events[1:-1])))
    stopped = access.chat(space, "t-1", "stop me", None)
    assert isinstance(stopped, AsyncIterator)
    seen.append((await anext(stopped)).type)
    await stopped.aclose()  # type: ignore[attr-defined]
    asked = MessageListQuery(order="desc", limit=1, role="user")
    seen.append((await access.list_messages(space, "t-1", asked)).data[0].content)

    spaces = apages(lambda cursor: access.list_spaces(PageQuery(after=cursor)))
    seen.append(space in [s.id async for s in spaces])
    await access.purge_thread(space, "t-1")
    with pytest.raises(NotFound):
        await access.get_thread(space, "t-1")
    await access.delete_space(space, force=True)
    with pytest.raises(NotFound):
        await access.delete_space(space, force=True)
    return seen


async def test_every_form_gives_the_same_answers(
    database_url: str, served: tuple[str, str]
) -> None:
    url, key = served
    with connect(database_url=database_url) as direct:
        assert isinstance(direct, LocalAccess)
        assert direct.remote is None
        from_database = exercise(direct, "local-sync")
    with connect(url, key) as remote:
        assert isinstance(remote, RemoteAccess)
        assert remote.remote == url
        from_server = exercise(remote, "remote-sync")
    async with aconnect(database_url=database_url) as adirect:
        assert isinstance(adirect, AsyncLocalAccess)
        from_database_async = await aexercise(adirect, "local-async")
    async with aconnect(url, key) as aremote:
        assert isinstance(aremote, AsyncRemoteAccess)
        from_server_async = await aexercise(aremote, "remote-async")

    assert from_database == from_server == from_database_async == from_server_async
    # What the transcript holds, so that four empty answers cannot pass.
    assert from_database[2] == [("m-1", 1), ("m-2", 2), ("m-3", 3)]
    assert from_database[3] == (
        [("m-1", "user", "one", False, {}), ("m-3", "user", "three", False, {"k": 1})],
        False,
    )
    assert from_database[6] == ("m-3", 3, "three", {"k": 1})  # one message by its id
    assert from_database[10] == []
    assert from_database[11] == ["t-1"]
    assert from_database[13] == ["t-1", "p-0", "p-1", "p-2"]
    assert from_database[14] == ({"a": 1, "b": 2}, 2, {"a": 1, "b": 2})
    assert from_database[15:17] == ["Conflict", ["ada"]]
    assert from_database[-4] == ("start", "done", {"delta"})
    assert from_database[-3] == "start"
    assert from_database[-2] == "stop me"


def test_a_local_access_survives_the_shared_store_being_closed(sqlite_url: str) -> None:
    """The shared store is looked up again once ``local.close_all()`` has closed it."""
    access = LocalAccess(sqlite_url)
    access.create_thread("default", ThreadCreate(id="kept"))
    local.close_all()
    assert access.get_thread("default", "kept").id == "kept"
    local.close_all()


def test_a_private_local_access_closes_its_store(sqlite_url: str) -> None:
    access = LocalAccess.open(sqlite_url)
    store = access.store
    access.close()
    assert store.closed
