"""The clients' tool fields and one-message calls: ``messages.create`` with ``tool_calls``,
``tool_call_id`` and ``name``, ``messages.get`` and ``messages.delete``, with the async
client on every backend (in process) and the blocking one over loopback."""

from __future__ import annotations

import pytest

from tests.client.test_sync_client import Served
from tests.client.test_sync_client import served as served  # the fixture
from threadloom import AsyncClient, Client, NotFound
from threadloom.models import ToolCall

CALL = {"id": "call_1", "type": "function", "function": {"name": "look", "arguments": "{}"}}


@pytest.mark.anyio
async def test_the_async_client_stores_reads_and_deletes_tool_messages(
    client: AsyncClient,
) -> None:
    thread = await client.threads.create("default")
    call = await client.messages.create(
        "default", thread.id, role="assistant", tool_calls=[CALL], id="c"
    )
    assert call.tool_calls == [ToolCall.model_validate(CALL)]
    result = await client.messages.create(
        "default", thread.id, "found", role="tool", tool_call_id="call_1", name="look"
    )
    assert (result.tool_call_id, result.name) == ("call_1", "look")
    assert await client.messages.get("default", thread.id, "c") == call
    deleted = await client.messages.delete("default", thread.id, "c")
    assert (deleted.object, deleted.id, deleted.deleted) == ("message.deleted", "c", True)
    with pytest.raises(NotFound):
        await client.messages.get("default", thread.id, "c")
    page = await client.messages.list("default", thread.id)
    assert [m.id for m in page.data] == [result.id]


@pytest.mark.server
def test_the_blocking_client_does_the_same_over_loopback(served: Served) -> None:
    with Client(served.url, served.admin_key) as client:
        thread = client.threads.create("default")
        call = ToolCall.model_validate(CALL)
        made = client.messages.create("default", thread.id, role="assistant", tool_calls=[call])
        assert client.messages.get("default", thread.id, made.id).tool_calls == [call]
        assert client.messages.delete("default", thread.id, made.id).deleted is True
        with pytest.raises(NotFound):
            client.messages.delete("default", thread.id, made.id)
