"""``ThreadloomChatMessageHistory`` over ``AsyncClient`` and the app in process, on SQLite and
PostgreSQL: what reads back, how it is stored, and how many requests each operation takes."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from tests.integrations.conftest import (
    BIG_IMAGE,
    GIVEN_IDS,
    SPACE,
    STORED_ROLES,
    RecordingAsyncTransport,
    conversation,
    words,
)
from threadloom import AlreadyExists, AsyncClient, NotFound, ThreadArchived
from threadloom.integrations.langchain import METADATA_KEY, ThreadloomChatMessageHistory

pytestmark = pytest.mark.anyio

MESSAGES = "/v1/spaces/default/threads/s1/messages"


def history(
    client: AsyncClient,
    session: str = "s1",
    *,
    space: str = SPACE,
    last_n: int | None = None,
    database_url: str | None = None,
) -> ThreadloomChatMessageHistory:
    return ThreadloomChatMessageHistory(
        session, async_client=client, space=space, last_n=last_n, database_url=database_url
    )


class TestRoundTrip:
    async def test_every_kind_of_message_reads_back_equal(self, async_client: AsyncClient) -> None:
        await history(async_client).aadd_messages(conversation())
        assert await history(async_client).aget_messages() == conversation()

    async def test_stored_as_threadloom_messages(self, async_client: AsyncClient) -> None:
        await history(async_client).aadd_messages(conversation())

        stored = (await async_client.messages.list(SPACE, "s1", limit=100)).data
        assert [m.role for m in stored] == STORED_ROLES
        for index, message in enumerate(stored):
            given = GIVEN_IDS.get(index)
            if given is not None:
                assert message.id == given
            else:
                assert message.id.startswith("msg_")
        assert [m.content for m in stored][:4] == [
            "You answer briefly.",
            "What is the weather in Paris?",
            "",
            "18 °C, sunny",
        ]
        multimodal = stored[8]
        assert multimodal.content == "And in this picture?"
        assert multimodal.images == [BIG_IMAGE, "https://example.com/b.png"]
        assert BIG_IMAGE not in str(multimodal.metadata)  # its metadata stays small
        ai = stored[2].metadata[METADATA_KEY]
        assert ai["type"] == "ai"
        # Tool calls, the call a result answers and names are the message's own fields.
        assert "tool_calls" not in ai["data"]
        (call,) = stored[2].tool_calls or []
        assert (call.id, call.function.name) == ("call_1", "weather")
        assert json.loads(call.function.arguments) == {"city": "Paris"}
        assert (stored[3].role, stored[3].tool_call_id, stored[3].name) == (
            "tool",
            "call_1",
            "weather",
        )
        assert stored[1].name == "ada"
        assert "content" not in ai["data"]  # the text is the message's content, once
        assert stored[6].metadata[METADATA_KEY]["data"]["role"] == "critic"

    async def test_messages_of_other_writers_read_by_their_role(
        self, async_client: AsyncClient
    ) -> None:
        await async_client.threads.create(SPACE, id="s1")
        await async_client.messages.create_batch(
            SPACE,
            "s1",
            [
                {"id": "m1", "role": "system", "content": "Be kind."},
                {"id": "m2", "role": "user", "content": "Look", "images": ["https://x.io/a.png"]},
                {"id": "m3", "role": "assistant", "content": "A cat."},
                {"id": "m4", "role": "narrator", "content": "Later..."},
                {"id": "m5", "content": "Odd", "metadata": {"langchain": "x"}},
                {"id": "m6", "content": "Odd", "metadata": {"langchain": {"type": "?"}}},
            ],
        )
        messages = await history(async_client).aget_messages()
        assert [(type(m).__name__, m.id) for m in messages] == [
            ("SystemMessage", "m1"),
            ("HumanMessage", "m2"),
            ("AIMessage", "m3"),
            ("ChatMessage", "m4"),
            ("HumanMessage", "m5"),
            ("HumanMessage", "m6"),
        ]
        assert messages[1].content == [
            {"type": "text", "text": "Look"},
            {"type": "image_url", "image_url": {"url": "https://x.io/a.png"}},
        ]
        assert messages[3].content == "Later..."
        assert getattr(messages[3], "role", None) == "narrator"

    async def test_tool_calls_of_other_writers_read_as_langchain_ones(
        self, async_client: AsyncClient
    ) -> None:
        await async_client.threads.create(SPACE, id="s1")
        good = {"id": "c1", "function": {"name": "look", "arguments": '{"q": "cat"}'}}
        answer = {"role": "tool", "tool_call_id": "c1", "name": "look", "content": "cat"}
        bad = {"id": "c2", "function": {"name": "look", "arguments": "not json"}}
        await async_client.messages.create_batch(
            SPACE,
            "s1",
            [
                {"id": "a1", "role": "assistant", "tool_calls": [good, bad]},
                {"id": "t1", **answer},
            ],
        )
        call, result = await history(async_client).aget_messages()
        assert isinstance(call, AIMessage)
        assert call.tool_calls == [
            {"name": "look", "args": {"q": "cat"}, "id": "c1", "type": "tool_call"}
        ]
        assert [(c["id"], c["args"]) for c in call.invalid_tool_calls] == [("c2", "not json")]
        assert isinstance(result, ToolMessage)
        assert (result.tool_call_id, result.name, result.content) == ("c1", "look", "cat")

    async def test_an_id_already_in_the_thread_is_refused_and_nothing_is_written(
        self, async_client: AsyncClient
    ) -> None:
        chat = history(async_client)
        await chat.aadd_messages([HumanMessage("Hi", id="h1")])
        with pytest.raises(AlreadyExists):
            await chat.aadd_messages([AIMessage("Hello"), HumanMessage("Hi again", id="h1")])
        assert await chat.aget_messages() == [HumanMessage("Hi", id="h1")]


class TestWindow:
    async def test_last_n_reads_the_newest_in_one_request(
        self, async_client: AsyncClient, transport: RecordingAsyncTransport
    ) -> None:
        await history(async_client).aadd_messages(words(30))
        transport.clear()

        assert await history(async_client, last_n=5).aget_messages() == words(5, start=25)
        assert transport.lines() == [f"GET {MESSAGES}?order=desc&limit=5"]

    async def test_last_n_past_the_thread_reads_it_all_in_one_request(
        self, async_client: AsyncClient, transport: RecordingAsyncTransport
    ) -> None:
        await history(async_client).aadd_messages(words(3))
        transport.clear()

        assert await history(async_client, last_n=50).aget_messages() == words(3)
        assert transport.lines() == [f"GET {MESSAGES}?order=desc&limit=50"]

    async def test_last_n_over_a_page_reads_only_the_pages_it_needs(
        self, async_client: AsyncClient, transport: RecordingAsyncTransport
    ) -> None:
        await history(async_client).aadd_messages(words(250))
        transport.clear()

        assert await history(async_client, last_n=120).aget_messages() == words(120, start=130)
        first, second = transport.sent
        assert first.url.params["limit"] == "100"
        assert "after" not in first.url.params
        assert (second.url.params["limit"], second.url.params["order"]) == ("20", "desc")
        assert "after" in second.url.params

    async def test_without_last_n_the_thread_is_read_page_by_page(
        self, async_client: AsyncClient, transport: RecordingAsyncTransport
    ) -> None:
        await history(async_client).aadd_messages(words(201))
        transport.clear()

        assert await history(async_client).aget_messages() == words(201)
        assert [r.url.params["order"] for r in transport.sent] == ["asc"] * 3
        assert [r.url.params["limit"] for r in transport.sent] == ["100"] * 3

    async def test_last_n_must_be_positive(self, async_client: AsyncClient) -> None:
        with pytest.raises(ValueError, match="last_n"):
            history(async_client, last_n=0)


class TestWrites:
    async def test_first_write_creates_the_thread_named_after_the_session(
        self, async_client: AsyncClient, transport: RecordingAsyncTransport
    ) -> None:
        await history(async_client).aadd_messages(words(2))

        assert transport.lines() == [
            f"POST {MESSAGES}/batch",  # 404: no thread yet
            "POST /v1/spaces/default/threads",
            f"POST {MESSAGES}/batch",
        ]
        thread = await async_client.threads.get(SPACE, "s1")
        assert thread.message_count == 2

    async def test_after_a_read_found_no_thread_it_is_created_first(
        self, async_client: AsyncClient, transport: RecordingAsyncTransport
    ) -> None:
        chat = history(async_client)
        assert await chat.aget_messages() == []
        transport.clear()

        await chat.aadd_messages(words(1))
        assert transport.lines() == ["POST /v1/spaces/default/threads", f"POST {MESSAGES}/batch"]

    async def test_an_existing_thread_is_used_as_it_is(
        self, async_client: AsyncClient, transport: RecordingAsyncTransport
    ) -> None:
        await async_client.threads.create(SPACE, id="s1", title="Support", metadata={"a": 1})
        transport.clear()

        await history(async_client).aadd_messages(words(1))
        assert transport.lines() == [f"POST {MESSAGES}/batch"]
        thread = await async_client.threads.get(SPACE, "s1")
        assert (thread.title, thread.metadata, thread.message_count) == ("Support", {"a": 1}, 1)

    async def test_a_thread_created_meanwhile_is_fine(self, async_client: AsyncClient) -> None:
        chat = history(async_client)
        assert await chat.aget_messages() == []  # the history now takes it to be missing
        await async_client.threads.create(SPACE, id="s1")  # another writer creates it

        await chat.aadd_messages(words(1))
        assert await chat.aget_messages() == words(1)

    async def test_batches_of_a_hundred_each_with_its_own_idempotency_key(
        self, async_client: AsyncClient, transport: RecordingAsyncTransport
    ) -> None:
        await async_client.threads.create(SPACE, id="s1")
        transport.clear()

        await history(async_client).aadd_messages(words(250))
        assert transport.lines() == [f"POST {MESSAGES}/batch"] * 3
        keys = {r.headers["idempotency-key"] for r in transport.sent}
        assert len(keys) == 3
        assert (await async_client.threads.get(SPACE, "s1")).message_count == 250

    async def test_one_message_at_a_time_and_none(self, async_client: AsyncClient) -> None:
        chat = history(async_client)
        await chat.aadd_messages([])
        with pytest.raises(NotFound):
            await async_client.threads.get(SPACE, "s1")
        await chat.aadd_messages([HumanMessage("one")])
        await chat.aadd_messages([AIMessage("two")])
        assert await chat.aget_messages() == [HumanMessage("one"), AIMessage("two")]

    async def test_an_archived_thread_refuses_writes(self, async_client: AsyncClient) -> None:
        chat = history(async_client)
        await chat.aadd_messages(words(1))
        await async_client.threads.archive(SPACE, "s1")

        with pytest.raises(ThreadArchived):
            await chat.aadd_messages(words(1, start=1))
        assert await chat.aget_messages() == words(1)


class TestClear:
    async def test_clear_purges_and_the_next_write_starts_afresh(
        self, async_client: AsyncClient
    ) -> None:
        chat = history(async_client)
        await chat.aadd_messages(words(3))
        await chat.aclear()

        assert await chat.aget_messages() == []
        with pytest.raises(NotFound):
            await async_client.threads.get(SPACE, "s1")
        await chat.aadd_messages(words(1, start=7))
        assert await history(async_client).aget_messages() == words(1, start=7)

    async def test_clear_without_a_thread(self, async_client: AsyncClient) -> None:
        await history(async_client).aclear()
        assert await history(async_client).aget_messages() == []


class TestIsolation:
    async def test_sessions_and_spaces_are_separate(self, async_client: AsyncClient) -> None:
        await async_client.spaces.create(id="other")
        one, two = history(async_client, "s1"), history(async_client, "s2")
        elsewhere = history(async_client, "s1", space="other")
        await one.aadd_messages([HumanMessage("to one", id="same-id")])
        await two.aadd_messages([HumanMessage("to two", id="same-id")])
        await elsewhere.aadd_messages([HumanMessage("to other", id="same-id")])

        assert await one.aget_messages() == [HumanMessage("to one", id="same-id")]
        assert await two.aget_messages() == [HumanMessage("to two", id="same-id")]
        assert await elsewhere.aget_messages() == [HumanMessage("to other", id="same-id")]

        await one.aclear()
        assert await one.aget_messages() == []
        assert await two.aget_messages() == [HumanMessage("to two", id="same-id")]
        assert await elsewhere.aget_messages() == [HumanMessage("to other", id="same-id")]


class TestConstruction:
    async def test_an_async_client_only_has_no_sync_methods(
        self, async_client: AsyncClient
    ) -> None:
        chat = history(async_client)
        with pytest.raises(RuntimeError, match="async_client only"):
            _ = chat.messages
        with pytest.raises(RuntimeError, match="async_client only"):
            chat.add_messages(words(1))
        with pytest.raises(RuntimeError, match="async_client only"):
            chat.clear()

    async def test_the_session_id_must_be_a_thread_id(self, async_client: AsyncClient) -> None:
        with pytest.raises(ValueError, match="not a threadloom thread id"):
            history(async_client, "user@example.com")

    async def test_clients_or_a_database_not_both(self, async_client: AsyncClient) -> None:
        with pytest.raises(ValueError, match="not both"):
            history(async_client, database_url="sqlite:///x.db")
