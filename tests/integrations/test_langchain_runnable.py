"""The history inside ``RunnableWithMessageHistory``, with a fake chat model: the second turn
sees the first, through ``invoke`` (``Client`` and local mode) and ``ainvoke``
(``AsyncClient``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.prompt_values import PromptValue
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langchain_core.runnables.history import RunnableWithMessageHistory

from tests.integrations.conftest import SPACE
from threadloom import AsyncClient, Client
from threadloom.integrations.langchain import ThreadloomChatMessageHistory

# RunnableWithMessageHistory warns, on construction, that it is deprecated (langchain-core
# 1.3.3); that is LangChain's advice to its users, and this adapter must work with it anyway.
pytestmark = pytest.mark.filterwarnings(
    "ignore:RunnableWithMessageHistory is deprecated"
    ":langchain_core._api.deprecation.LangChainDeprecationWarning"
)

SYSTEM = SystemMessage("You remember names.")
CONFIG: RunnableConfig = {"configurable": {"session_id": "chat-1"}}
Factory = Callable[[str], ThreadloomChatMessageHistory]


class Chat:
    """A chain with a history, and the messages its model was given on each turn."""

    def __init__(self, factory: Factory) -> None:
        self.seen: list[list[BaseMessage]] = []
        prompt = ChatPromptTemplate.from_messages(
            [SYSTEM, MessagesPlaceholder("history"), ("human", "{question}")]
        )
        model = FakeListChatModel(responses=["Hello, Ada.", "You are Ada.", "Still Ada."])
        chain = prompt | RunnableLambda(self._record) | model
        self.runnable = RunnableWithMessageHistory(
            chain,
            factory,
            input_messages_key="question",
            history_messages_key="history",
        )

    def _record(self, value: PromptValue) -> PromptValue:
        self.seen.append(value.to_messages())
        return value


def check_two_turns(chat: Chat, first: BaseMessage, second: BaseMessage, stored: Factory) -> None:
    assert (first.content, second.content) == ("Hello, Ada.", "You are Ada.")
    assert chat.seen[0] == [SYSTEM, HumanMessage("I am Ada.")]
    assert chat.seen[1] == [SYSTEM, HumanMessage("I am Ada."), first, HumanMessage("Who am I?")]
    assert isinstance(first, AIMessage)
    assert stored("chat-1").messages == [
        HumanMessage("I am Ada."),
        first,
        HumanMessage("Who am I?"),
        second,
    ]
    assert stored("chat-2").messages == []


@pytest.mark.anyio
async def test_ainvoke_with_an_async_client(async_client: AsyncClient) -> None:
    chat = Chat(lambda session: ThreadloomChatMessageHistory(session, async_client=async_client))

    first = await chat.runnable.ainvoke({"question": "I am Ada."}, CONFIG)
    second = await chat.runnable.ainvoke({"question": "Who am I?"}, CONFIG)

    assert chat.seen[1][2] == first
    assert (first.content, second.content) == ("Hello, Ada.", "You are Ada.")
    stored = (await async_client.messages.list(SPACE, "chat-1")).data
    assert [m.role for m in stored] == ["user", "assistant", "user", "assistant"]
    assert [m.content for m in stored] == ["I am Ada.", "Hello, Ada.", "Who am I?", "You are Ada."]
    assert stored[1].id == first.id  # the model run's id is the message id
    history = ThreadloomChatMessageHistory("chat-1", async_client=async_client)
    assert await history.aget_messages() == [
        HumanMessage("I am Ada."),
        first,
        HumanMessage("Who am I?"),
        second,
    ]


@pytest.mark.anyio
async def test_a_window_of_the_newest_messages(async_client: AsyncClient) -> None:
    chat = Chat(
        lambda session: ThreadloomChatMessageHistory(session, async_client=async_client, last_n=2)
    )
    first = await chat.runnable.ainvoke({"question": "I am Ada."}, CONFIG)
    second = await chat.runnable.ainvoke({"question": "Who am I?"}, CONFIG)
    await chat.runnable.ainvoke({"question": "Sure?"}, CONFIG)

    assert chat.seen[1] == [SYSTEM, HumanMessage("I am Ada."), first, HumanMessage("Who am I?")]
    assert chat.seen[2] == [SYSTEM, HumanMessage("Who am I?"), second, HumanMessage("Sure?")]
    assert (await async_client.threads.get(SPACE, "chat-1")).message_count == 6


@pytest.mark.server
def test_invoke_with_a_client(client: Client) -> None:
    def stored(session: str) -> ThreadloomChatMessageHistory:
        return ThreadloomChatMessageHistory(session, client=client)

    chat = Chat(stored)
    first = chat.runnable.invoke({"question": "I am Ada."}, CONFIG)
    second = chat.runnable.invoke({"question": "Who am I?"}, CONFIG)
    check_two_turns(chat, first, second, stored)


@pytest.mark.usefixtures("local_stores")
def test_invoke_in_local_mode(database_url: str) -> None:
    def stored(session: str) -> ThreadloomChatMessageHistory:
        return ThreadloomChatMessageHistory(session, database_url=database_url)

    chat = Chat(stored)
    first = chat.runnable.invoke({"question": "I am Ada."}, CONFIG)
    second = chat.runnable.invoke({"question": "Who am I?"}, CONFIG)
    check_two_turns(chat, first, second, stored)
