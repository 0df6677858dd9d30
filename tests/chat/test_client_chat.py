"""The Python client's chat and event streams: in process (async) and over loopback (sync)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI

from tests.chat.conftest import llm_env
from tests.fixtures.servers import LiveServer
from tests.llm.stub_openai import DEFAULT_REPLY, StubOpenAI
from threadloom import AsyncClient, ChatEvent, Client, LiveEvent, NotFound
from threadloom.errors import ProviderStreamInterrupted

StartServer = Callable[..., LiveServer]


def _in_process(app: FastAPI) -> AsyncClient:
    transport = httpx.ASGITransport(app=app)
    return AsyncClient("http://localhost", transport=transport, max_retries=0)


@pytest.mark.anyio
async def test_async_send_stream_and_context(app: FastAPI, stub: StubOpenAI) -> None:
    stub.reset(reply="one two three")
    async with _in_process(app) as client:
        thread = await client.threads.create("default")
        reply = await client.chat.send("default", thread.id, "count")
        assert reply.content == "one two three"
        assert reply.metadata["reply_to"]
        events: list[ChatEvent] = [
            event async for event in client.chat.stream("default", thread.id, "again")
        ]
        assert [event.type for event in events] == ["start", "delta", "delta", "delta", "done"]
        assert events[0].message is not None
        assert events[0].message.content == "again"
        assert "".join(event.text for event in events) == "one two three"
        done = events[-1].message
        assert done is not None
        assert done.content == "one two three"
        context = await client.chat.context("default", thread.id, max_tokens=100_000)
        assert [m.content for m in context.messages[1:]] == [
            "count",
            "one two three",
            "again",
            "one two three",
        ]
        with pytest.raises(NotFound):
            async for _ in client.chat.stream("default", "missing", "hi"):
                pass


@pytest.mark.anyio
async def test_an_error_event_is_raised_as_its_exception(app: FastAPI) -> None:
    async with _in_process(app) as client:
        assistant = await client.assistants.create(
            "default", name="drop", provider="openai", model="stub-drop"
        )
        thread = await client.threads.create("default")
        seen: list[str] = []

        async def read() -> None:
            async for event in client.chat.stream(
                "default", thread.id, "hi", assistant=assistant.id
            ):
                seen.append(event.type)

        with pytest.raises(ProviderStreamInterrupted):
            await read()
        assert seen[0] == "start"


@pytest.mark.server
def test_sync_streams_over_loopback(
    live_servers: StartServer, sqlite_url: str, stub: StubOpenAI
) -> None:
    server = live_servers(sqlite_url, env=llm_env(stub))
    with Client(server.url, max_retries=0) as client:
        thread = client.threads.create("default")
        received: list[LiveEvent] = []
        listening = threading.Event()

        def listen() -> None:
            with Client(server.url) as listener:
                for event in listener.events.thread("default", thread.id):
                    listening.set()
                    received.append(event)
                    if event.type == "chat.done":
                        return

        reader = threading.Thread(target=listen, daemon=True)
        reader.start()
        deadline = time.monotonic() + 10
        while not listening.is_set() and time.monotonic() < deadline:
            client.messages.create("default", thread.id, "ping")
            listening.wait(0.2)
        events = list(client.chat.stream("default", thread.id, "hello"))
        assert events[-1].type == "done"
        reader.join(15)
        kinds = [event.type for event in received]
        assert "chat.delta" in kinds
        assert kinds[-1] == "chat.done"
        assert received[-1].data["content"] == DEFAULT_REPLY
        assert received[-1].id is not None

        # Stopping early stops the model and keeps what it wrote, marked incomplete.
        slow = client.assistants.create(
            "default", name="slow", provider="openai", model="stub-stall-mid"
        )
        for event in client.chat.stream("default", thread.id, "story", assistant=slow.id):
            if event.type == "delta":
                break
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            last = client.messages.list("default", thread.id, order="desc", limit=1).data[0]
            if last.role == "assistant" and last.metadata.get("incomplete"):
                break
            time.sleep(0.05)
        assert last.metadata["incomplete"] is True
