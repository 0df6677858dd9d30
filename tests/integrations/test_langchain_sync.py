"""``ThreadloomChatMessageHistory`` with the blocking ``Client`` against a real server, and in
local mode (``threadloom.local``) on the database itself, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from tests.integrations.conftest import (
    GIVEN_IDS,
    SPACE,
    STORED_ROLES,
    RecordingTransport,
    conversation,
    words,
)
from threadloom import AsyncClient, Client, NotFound, local
from threadloom.integrations.langchain import ThreadloomChatMessageHistory

MESSAGES = "/v1/spaces/default/threads/s1/messages"


@pytest.mark.server
class TestClient:
    def test_every_kind_of_message_reads_back_equal(self, client: Client) -> None:
        ThreadloomChatMessageHistory("s1", client=client).add_messages(conversation())

        assert ThreadloomChatMessageHistory("s1", client=client).messages == conversation()
        stored = client.messages.list(SPACE, "s1", limit=100).data
        assert [m.role for m in stored] == STORED_ROLES
        assert {i: stored[i].id for i in GIVEN_IDS} == GIVEN_IDS

    def test_last_n_reads_the_newest_in_one_request(
        self, client: Client, sync_transport: RecordingTransport
    ) -> None:
        ThreadloomChatMessageHistory("s1", client=client).add_messages(words(40))
        sync_transport.clear()

        newest = ThreadloomChatMessageHistory("s1", client=client, last_n=3).messages
        assert newest == words(3, start=37)
        assert sync_transport.lines() == [f"GET {MESSAGES}?order=desc&limit=3"]

    def test_writes_clear_and_sessions(
        self, client: Client, sync_transport: RecordingTransport
    ) -> None:
        chat = ThreadloomChatMessageHistory("s1", client=client)
        chat.add_messages(words(150))
        assert sync_transport.lines() == [
            f"POST {MESSAGES}/batch",  # 404: no thread yet
            "POST /v1/spaces/default/threads",
            f"POST {MESSAGES}/batch",
            f"POST {MESSAGES}/batch",
        ]
        other = ThreadloomChatMessageHistory("s2", client=client)
        other.add_user_message("Hi")
        other.add_ai_message("Hello")

        chat.clear()
        assert chat.messages == []
        with pytest.raises(NotFound):
            client.threads.get(SPACE, "s1")
        assert [m.content for m in other.messages] == ["Hi", "Hello"]
        chat.add_messages(words(1))
        assert chat.messages == words(1)

    @pytest.mark.anyio
    async def test_a_sync_client_only_serves_the_async_methods_too(self, client: Client) -> None:
        chat = ThreadloomChatMessageHistory("s1", client=client, last_n=2)
        await chat.aadd_messages(words(3))
        assert await chat.aget_messages() == words(2, start=1)
        await chat.aclear()
        assert chat.messages == []


@pytest.mark.usefixtures("local_stores")
class TestLocal:
    def test_every_kind_of_message_reads_back_equal(self, database_url: str) -> None:
        ThreadloomChatMessageHistory("s1", database_url=database_url).add_messages(conversation())

        assert ThreadloomChatMessageHistory("s1", database_url=database_url).messages == (
            conversation()
        )

    def test_last_n_reads_one_page_of_the_newest(
        self, database_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        ThreadloomChatMessageHistory("s1", database_url=database_url).add_messages(words(30))
        threads = local.store_for(database_url).services.threads
        queries: list[Any] = []
        read = threads.list_messages

        def counted(*args: Any) -> Any:
            queries.append(args[-1])
            return read(*args)

        monkeypatch.setattr(threads, "list_messages", counted)

        chat = ThreadloomChatMessageHistory("s1", database_url=database_url, last_n=4)
        assert chat.messages == words(4, start=26)
        assert [(q.order, q.limit, q.after) for q in queries] == [("desc", 4, None)]

    def test_clear_and_sessions(self, database_url: str) -> None:
        one = ThreadloomChatMessageHistory("s1", database_url=database_url)
        two = ThreadloomChatMessageHistory("s2", database_url=database_url)
        one.add_messages(words(2))
        two.add_messages(words(3))
        one.clear()
        one.clear()  # nothing left to clear

        assert one.messages == []
        assert two.messages == words(3)
        one.add_messages(words(1, start=5))
        assert one.messages == words(1, start=5)

    @pytest.mark.anyio
    async def test_async_methods(self, database_url: str) -> None:
        chat = ThreadloomChatMessageHistory("s1", database_url=database_url, last_n=2)
        await chat.aadd_messages(words(3))
        assert await chat.aget_messages() == words(2, start=1)
        await chat.aclear()
        assert await chat.aget_messages() == []

    @pytest.mark.anyio
    async def test_the_server_serves_what_local_mode_wrote(
        self, database_url: str, async_client: AsyncClient
    ) -> None:
        ThreadloomChatMessageHistory("s1", database_url=database_url).add_messages(conversation())
        remote = ThreadloomChatMessageHistory("s1", async_client=async_client)
        assert await remote.aget_messages() == conversation()

        await remote.aadd_messages([HumanMessage("from the server", id="late")])
        local_view = ThreadloomChatMessageHistory("s1", database_url=database_url, last_n=1)
        assert local_view.messages == [HumanMessage("from the server", id="late")]

    def test_the_default_database_is_the_servers(
        self, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("THREADLOOM_DATABASE_URL", sqlite_url)
        ThreadloomChatMessageHistory("s1").add_messages(words(2))

        assert ThreadloomChatMessageHistory("s1", database_url=sqlite_url).messages == words(2)
