"""``AsyncClient`` against the app in process, on SQLite and PostgreSQL: every endpoint and
every method of every namespace, pagination while appending, and idempotent replays."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, TypedDict, Unpack

import pytest
from fastapi import FastAPI

from tests.client.conftest import in_process
from threadloom import (
    AlreadyExists,
    AsyncClient,
    Conflict,
    MessageCreate,
    NotFound,
    PreconditionFailed,
    Role,
    Thread,
    ThreadArchived,
    Unauthenticated,
)
from threadloom.threadmem import V1Role

pytestmark = pytest.mark.anyio

SPACE = "default"


class ThreadFilters(TypedDict, total=False):
    """The filters of ``threads.list`` that the tests use."""

    status: Literal["active", "archived", "all"]
    owner_id: str
    metadata: Mapping[str, str | int | float | bool]
    q: str


class MessageOptions(TypedDict, total=False):
    """The options of ``messages.list`` that the tests use."""

    order: Literal["asc", "desc"]
    include_private: bool
    role: str


class TestService:
    async def test_health_and_ready(self, client: AsyncClient) -> None:
        assert await client.health() == {"status": "ok"}
        ready = await client.ready()
        assert ready["status"] == "ready"
        assert ready["database"] in ("sqlite", "postgresql", "postgres", "redis")


class TestSpaces:
    async def test_create_get_update_delete(self, client: AsyncClient) -> None:
        space = await client.spaces.create(id="alpha", name="Alpha", metadata={"tier": "gold"})
        assert (space.id, space.name, space.metadata) == ("alpha", "Alpha", {"tier": "gold"})
        assert await client.spaces.get("alpha") == space

        updated = await client.spaces.update("alpha", name="A", metadata={"tier": None, "n": 1})
        assert (updated.name, updated.metadata) == ("A", {"n": 1})

        await client.spaces.delete("alpha")
        with pytest.raises(NotFound):
            await client.spaces.get("alpha")

    async def test_generated_id_and_name(self, client: AsyncClient) -> None:
        space = await client.spaces.create()
        assert space.id
        assert space.name == space.id

    async def test_delete_with_threads_needs_force(self, client: AsyncClient) -> None:
        await client.spaces.create(id="beta")
        await client.threads.create("beta", id="t")
        with pytest.raises(Conflict):
            await client.spaces.delete("beta")
        await client.spaces.delete("beta", force=True)
        with pytest.raises(NotFound):
            await client.threads.get("beta", "t")

    async def test_list_and_iter(self, client: AsyncClient) -> None:
        for name in ("s1", "s2", "s3"):
            await client.spaces.create(id=name)
        page = await client.spaces.list(limit=2)
        assert len(page.data) == 2
        assert page.has_more
        rest = await client.spaces.list(limit=10, after=page.last_id)
        assert not rest.has_more
        listed = [space.id for space in page.data + rest.data]
        assert sorted(listed) == ["default", "s1", "s2", "s3"]
        assert [space.id async for space in client.spaces.iter(limit=1)] == listed


class TestCreateThread:
    async def test_every_field(self, client: AsyncClient) -> None:
        thread = await client.threads.create(
            SPACE,
            id="support-42",
            title="Support chat",
            owner_id="u1",
            public=True,
            metadata={"customer": "c-42"},
            state={"step": 1},
            role_mapping={"assistant": Role(name="Ada"), "user": {"name": "Bob"}},
        )
        assert isinstance(thread, Thread)
        assert (thread.id, thread.space_id, thread.title) == ("support-42", SPACE, "Support chat")
        assert (thread.owner_id, thread.public, thread.status) == ("u1", True, "active")
        assert (thread.metadata, thread.state) == ({"customer": "c-42"}, {"step": 1})
        assert thread.role_mapping["assistant"].name == "Ada"
        assert thread.role_mapping["user"].name == "Bob"
        assert thread.message_count == 0

    async def test_defaults(self, client: AsyncClient) -> None:
        thread = await client.threads.create(SPACE)
        assert thread.id
        assert thread.title is None
        assert thread.metadata == {}
        assert await client.threads.get(SPACE, thread.id) == thread

    async def test_with_first_message(self, client: AsyncClient) -> None:
        created = await client.threads.create_with_message(SPACE, "Hi!", id="t1", title="T")
        assert (created.thread.id, created.thread.title) == ("t1", "T")
        assert created.thread.message_count == 1
        assert (created.message.thread_id, created.message.seq) == ("t1", 1)
        assert (created.message.role, created.message.content) == ("user", "Hi!")

    @pytest.mark.parametrize(
        "message",
        [
            MessageCreate(role="assistant", content="Hello"),
            {"role": "assistant", "content": "Hello"},
        ],
    )
    async def test_first_message_as_model_or_mapping(
        self, client: AsyncClient, message: MessageCreate | dict[str, str]
    ) -> None:
        created = await client.threads.create_with_message(SPACE, message)
        assert (created.message.role, created.message.content) == ("assistant", "Hello")


class TestListThreads:
    async def test_filters(self, client: AsyncClient) -> None:
        await client.threads.create(
            SPACE,
            id="a",
            title="Billing question",
            owner_id="u1",
            metadata={"tier": "gold", "n": 1},
        )
        await client.threads.create(
            SPACE,
            id="b",
            title="Shipping",
            owner_id="u2",
            metadata={"tier": "gold", "n": 2, "vip": True},
        )
        await client.threads.create(SPACE, id="c", title="Billing again", owner_id="u1")

        async def ids(**filters: Unpack[ThreadFilters]) -> set[str]:
            page = await client.threads.list(SPACE, **filters)
            return {thread.id for thread in page.data}

        assert await ids() == {"a", "b", "c"}
        assert await ids(owner_id="u1") == {"a", "c"}
        assert await ids(metadata={"tier": "gold"}) == {"a", "b"}
        assert await ids(metadata={"tier": "gold", "n": 2}) == {"b"}
        assert await ids(metadata={"vip": True}) == {"b"}
        assert await ids(q="billing") == {"a", "c"}
        await client.threads.archive(SPACE, "c")
        assert await ids() == {"a", "b"}
        assert await ids(status="archived") == {"c"}
        assert await ids(status="all") == {"a", "b", "c"}

    async def test_order(self, client: AsyncClient) -> None:
        for name in ("x", "y", "z"):
            await client.threads.create(SPACE, id=name)
        await client.threads.update(SPACE, "x", title="touched")
        newest_activity = await client.threads.list(SPACE)
        assert [t.id for t in newest_activity.data] == ["x", "z", "y"]
        oldest = await client.threads.list(SPACE, order_by="created_at", order="asc")
        assert [t.id for t in oldest.data] == ["x", "y", "z"]

    async def test_pages_and_iter_while_creating(self, client: AsyncClient) -> None:
        for i in range(5):
            await client.threads.create(SPACE, id=f"t{i}")
        first = await client.threads.list(SPACE, order_by="created_at", order="asc", limit=2)
        assert [t.id for t in first.data] == ["t0", "t1"]
        assert first.has_more
        before = await client.threads.list(
            SPACE, order_by="created_at", order="asc", limit=2, before=first.last_id
        )
        assert [t.id for t in before.data] == ["t0"]

        seen = []
        async for thread in client.threads.iter(SPACE, order_by="created_at", order="asc", limit=2):
            seen.append(thread.id)
            if thread.id == "t2":
                await client.threads.create(SPACE, id="t5")
        assert seen == [f"t{i}" for i in range(6)]

    async def test_iter_refuses_before(self, client: AsyncClient) -> None:
        with pytest.raises(ValueError, match="before"):
            client.threads.iter(SPACE, before="x")


class TestChangeThread:
    async def test_update_merges_and_clears(self, client: AsyncClient) -> None:
        await client.threads.create(
            SPACE,
            id="t",
            title="T",
            owner_id="u1",
            metadata={"a": 1, "b": 2},
            role_mapping={"assistant": Role(name="Ada"), "user": Role(name="Bob")},
        )
        thread = await client.threads.update(
            SPACE,
            "t",
            title=None,
            public=True,
            metadata={"a": None, "c": 3},
            role_mapping={"user": None, "system": Role(name="Sys")},
        )
        assert (thread.title, thread.owner_id, thread.public) == (None, "u1", True)
        assert thread.metadata == {"b": 2, "c": 3}
        assert sorted(thread.role_mapping) == ["assistant", "system"]
        cleared = await client.threads.update(SPACE, "t", owner_id=None)
        assert (cleared.owner_id, cleared.metadata) == (None, {"b": 2, "c": 3})

    async def test_archive_restore_purge(self, client: AsyncClient) -> None:
        await client.threads.create(SPACE, id="t")
        archived = await client.threads.archive(SPACE, "t")
        assert archived.status == "archived"
        assert archived.archived_at
        with pytest.raises(ThreadArchived):
            await client.messages.create(SPACE, "t", "late")
        restored = await client.threads.restore(SPACE, "t")
        assert restored.status == "active"
        assert restored.archived_at is None
        await client.messages.create(SPACE, "t", "on time")
        await client.threads.purge(SPACE, "t")
        with pytest.raises(NotFound):
            await client.threads.get(SPACE, "t")
        with pytest.raises(NotFound):
            await client.messages.list(SPACE, "t")

    async def test_ids_are_path_segments(self, client: AsyncClient) -> None:
        """An id with dots is sent as one segment, never resolved as a relative path."""
        for thread_id in ("..", "a.b", "v1:x"):
            await client.threads.create(SPACE, id=thread_id)
            assert (await client.threads.get(SPACE, thread_id)).id == thread_id


class TestMessages:
    async def test_create_every_field(self, client: AsyncClient) -> None:
        await client.threads.create(SPACE, id="t")
        message = await client.messages.create(
            SPACE,
            "t",
            "look",
            role="assistant",
            images=["https://x.test/a.png"],
            metadata={"k": "v"},
        )
        assert (message.thread_id, message.seq, message.role) == ("t", 1, "assistant")
        assert (message.content, message.images) == ("look", ["https://x.test/a.png"])
        assert (message.private, message.metadata) == (False, {"k": "v"})
        assert (await client.threads.get(SPACE, "t")).message_count == 1

    async def test_private_role_and_order(self, client: AsyncClient) -> None:
        await client.threads.create(SPACE, id="t")
        await client.messages.create(SPACE, "t", "q1")
        await client.messages.create(SPACE, "t", "secret", role="system", private=True)
        await client.messages.create(SPACE, "t", "a1", role="assistant")

        async def contents(**options: Unpack[MessageOptions]) -> list[str]:
            page = await client.messages.list(SPACE, "t", **options)
            return [m.content for m in page.data]

        assert await contents() == ["q1", "a1"]
        assert await contents(include_private=True) == ["q1", "secret", "a1"]
        assert await contents(order="desc") == ["a1", "q1"]
        assert await contents(role="assistant") == ["a1"]

    async def test_batch(self, client: AsyncClient) -> None:
        await client.threads.create(SPACE, id="t")
        await client.messages.create(SPACE, "t", "first")
        messages = await client.messages.create_batch(
            SPACE, "t", [MessageCreate(content="a"), {"role": "assistant", "content": "b"}]
        )
        assert [(m.seq, m.role, m.content) for m in messages] == [
            (2, "user", "a"),
            (3, "assistant", "b"),
        ]

    async def test_pages_and_iter_while_appending(self, client: AsyncClient) -> None:
        await client.threads.create(SPACE, id="t")
        await client.messages.create_batch(SPACE, "t", [{"content": str(i)} for i in range(5)])
        page = await client.messages.list(SPACE, "t", limit=2)
        assert [m.seq for m in page.data] == [1, 2]
        assert page.has_more
        newest = await client.messages.list(SPACE, "t", order="desc", limit=2)
        assert [m.seq for m in newest.data] == [5, 4]

        seqs = []
        async for message in client.messages.iter(SPACE, "t", limit=2):
            seqs.append(message.seq)
            if message.seq == 3:
                await client.messages.create(SPACE, "t", "late 1")
                await client.messages.create(SPACE, "t", "late 2")
        assert seqs == list(range(1, 8))
        assert len([m async for m in client.messages.iter(SPACE, "t")]) == 7


class TestState:
    async def test_get_put_patch(self, client: AsyncClient) -> None:
        await client.threads.create(SPACE, id="t")
        fresh = await client.state.get(SPACE, "t")
        assert (fresh.thread_id, fresh.state, fresh.version) == ("t", None, 0)
        put = await client.state.put(SPACE, "t", {"a": 1, "b": {"c": 2}})
        assert (put.state, put.version) == ({"a": 1, "b": {"c": 2}}, 1)
        patched = await client.state.patch(SPACE, "t", {"a": None, "b": {"d": 3}})
        assert (patched.state, patched.version) == ({"b": {"c": 2, "d": 3}}, 2)
        assert await client.state.get(SPACE, "t") == patched
        assert (await client.threads.get(SPACE, "t")).state_version == 2

    async def test_if_match(self, client: AsyncClient) -> None:
        await client.threads.create(SPACE, id="t", state="s0")
        current = await client.state.get(SPACE, "t")
        written = await client.state.put(SPACE, "t", "s1", if_match=current.version)
        with pytest.raises(PreconditionFailed) as stale_put:
            await client.state.put(SPACE, "t", "lost", if_match=current.version)
        assert stale_put.value.status_code == 412
        assert stale_put.value.headers["etag"] == f'"{written.version}"'
        with pytest.raises(PreconditionFailed):
            await client.state.patch(SPACE, "t", {"x": 1}, if_match=current.version)
        patched = await client.state.patch(SPACE, "t", {"x": 1}, if_match=written.version)
        assert (patched.state, patched.version) == ({"x": 1}, written.version + 1)

    async def test_history_and_iter_history(self, client: AsyncClient) -> None:
        await client.threads.create(SPACE, id="t")
        for n in range(1, 6):
            await client.state.put(SPACE, "t", {"n": n})
        page = await client.state.history(SPACE, "t", limit=2)
        assert [(v.version, v.state) for v in page.data] == [(4, {"n": 4}), (3, {"n": 3})]
        rest = await client.state.history(SPACE, "t", after=page.last_id)
        assert [v.version for v in rest.data] == [2, 1]
        assert not rest.has_more
        versions = [v.version async for v in client.state.iter_history(SPACE, "t", limit=2)]
        assert versions == [4, 3, 2, 1]


class TestKeys:
    async def test_create_list_revoke(self, app: FastAPI, client: AsyncClient) -> None:
        admin = await client.keys.create(role="admin", name="root")
        assert (admin.role, admin.space_id, admin.name) == ("admin", None, "root")
        async with in_process(app, admin.key) as as_admin:
            writer = await as_admin.keys.create(space=SPACE, name="w")
            assert (writer.role, writer.space_id, writer.name) == ("writer", SPACE, "w")
            assert writer.key.startswith(writer.prefix)
            keys = await as_admin.keys.list()
            assert {key.id for key in keys} == {admin.id, writer.id}
            assert all(not hasattr(key, "key") for key in keys)
            async with in_process(app, writer.key) as as_writer:
                assert (await as_writer.threads.create(SPACE)).space_id == SPACE
                await as_admin.keys.revoke(writer.id)
                with pytest.raises(Unauthenticated):
                    await as_writer.threads.list(SPACE)
            revoked = {key.id: key for key in await as_admin.keys.list()}[writer.id]
            assert revoked.revoked_at is not None

    async def test_me_names_the_key_sent(self, app: FastAPI, client: AsyncClient) -> None:
        assert (await client.keys.me()).model_dump() == {
            "object": "api_key_identity",
            "key_id": None,
            "role": "admin",
            "space_id": None,
        }
        admin = await client.keys.create(role="admin")
        async with in_process(app, admin.key) as as_admin:
            reader = await as_admin.keys.create(role="reader", space=SPACE)
            assert (await as_admin.keys.me()).key_id == admin.id
        async with in_process(app, reader.key) as as_reader:
            me = await as_reader.keys.me()
            assert (me.key_id, me.role, me.space_id) == (reader.id, "reader", SPACE)
        with pytest.raises(Unauthenticated):
            await client.keys.me()  # keys exist now: no key is no answer


class TestLegacy:
    async def test_original_api(self, client: AsyncClient) -> None:
        created = await client.legacy.create("thread1", state="initial", initial_message="Hello")
        assert (created.thread_id, created.state) == ("thread1", "initial")
        updated = await client.legacy.update("thread1", "active")
        assert (updated.thread_id, updated.state) == ("thread1", "active")
        assert await client.legacy.get("thread1") == updated
        page = await client.messages.list(SPACE, "thread1")
        assert [m.content for m in page.data] == ["Hello"]


class TestRoleThreads:
    """The original server API's atomic role changes, as ``rolethreads``."""

    ADA = {"name": "assistant", "user_id": "u-7", "user_name": "Ada", "icon": "a.png"}

    async def test_add_and_remove(self, client: AsyncClient) -> None:
        await client.threads.create(SPACE, id="t", role_mapping={"user": {"name": "Bob"}})
        added = await client.rolethreads.add_role("t", self.ADA)
        assert added.model_dump() == {**self.ADA, "description": None}
        stored = (await client.threads.get(SPACE, "t")).role_mapping
        assert set(stored) == {"user", "assistant"}
        assert stored["assistant"] == Role(**self.ADA)

        removed = await client.rolethreads.remove_role("t", "assistant")
        assert removed == added
        assert set((await client.threads.get(SPACE, "t")).role_mapping) == {"user"}
        # A role set through the native API reads with empty strings for what it lacks.
        bob = await client.rolethreads.remove_role("t", "user")
        assert (bob.name, bob.user_id, bob.icon) == ("Bob", "", "")
        assert (await client.threads.get(SPACE, "t")).role_mapping == {}

    async def test_a_taken_role_is_a_conflict(self, client: AsyncClient) -> None:
        await client.threads.create(SPACE, id="t")
        await client.rolethreads.add_role("t", self.ADA)
        other = V1Role(**{**self.ADA, "user_name": "Eve"})
        with pytest.raises(Conflict) as caught:
            await client.rolethreads.add_role("t", other)
        assert type(caught.value) is Conflict
        assert caught.value.status_code == 409
        mapping = (await client.threads.get(SPACE, "t")).role_mapping
        assert mapping["assistant"].user_name == "Ada"

    async def test_missing_role_and_missing_thread_are_not_found(self, client: AsyncClient) -> None:
        await client.threads.create(SPACE, id="t")
        with pytest.raises(NotFound, match="role 'ghost' does not exist"):
            await client.rolethreads.remove_role("t", "ghost")
        with pytest.raises(NotFound, match="thread 'nope' does not exist"):
            await client.rolethreads.remove_role("nope", "ghost")
        with pytest.raises(NotFound, match="thread 'nope' does not exist"):
            await client.rolethreads.add_role("nope", self.ADA)

    async def test_odd_role_names_travel_intact(self, client: AsyncClient) -> None:
        await client.threads.create(SPACE, id="t")
        name = "a/b?c=d&e #f"
        await client.rolethreads.add_role("t", {**self.ADA, "name": name})
        assert set((await client.threads.get(SPACE, "t")).role_mapping) == {name}
        assert (await client.rolethreads.remove_role("t", name)).name == name
        assert (await client.threads.get(SPACE, "t")).role_mapping == {}


class TestIdempotentCreates:
    async def test_same_key_makes_one_thread(self, client: AsyncClient) -> None:
        first = await client.threads.create(SPACE, title="once", idempotency_key="create-1")
        again = await client.threads.create(SPACE, title="once", idempotency_key="create-1")
        assert again == first
        assert len((await client.threads.list(SPACE)).data) == 1

    async def test_same_key_makes_one_message(self, client: AsyncClient) -> None:
        await client.threads.create(SPACE, id="t")
        first = await client.messages.create(SPACE, "t", "hi", idempotency_key="m-1")
        again = await client.messages.create(SPACE, "t", "hi", idempotency_key="m-1")
        assert again == first
        assert (await client.threads.get(SPACE, "t")).message_count == 1

    async def test_every_create_replays(self, client: AsyncClient) -> None:
        """Thread plus message, batch, space and the original API replay too."""
        for _ in range(2):
            await client.threads.create_with_message(SPACE, "hi", id="tm", idempotency_key="a")
            await client.messages.create_batch(SPACE, "tm", [{"content": "b"}], idempotency_key="b")
            await client.spaces.create(id="sp", idempotency_key="c")
            await client.legacy.create("legacy", idempotency_key="d")
        assert (await client.threads.get(SPACE, "tm")).message_count == 2

    async def test_calls_without_a_key_get_their_own(self, client: AsyncClient) -> None:
        first = await client.threads.create(SPACE, title="same body")
        second = await client.threads.create(SPACE, title="same body")
        assert first.id != second.id

    async def test_taken_id_is_already_exists(self, client: AsyncClient) -> None:
        await client.threads.create(SPACE, id="t")
        with pytest.raises(AlreadyExists):
            await client.threads.create(SPACE, id="t")
