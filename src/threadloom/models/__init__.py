"""Wire schemas shared by the server and the client (pydantic v2).

Requests forbid unknown fields, so a misspelt field is an error rather than silently ignored.
Responses allow extra fields, so an older client keeps working against a newer server.

One module per resource, as the routers are (``spaces``, ``threads``, ``messages``,
``state``, ``chat``, ``sessions``, ``keys``, ``legacy``, ``assistants``); ``base`` holds what
they share (the request and response bases, list queries, ``Page``, ``Problem``). Import the
schemas from here: ``from threadloom.models import Thread``.
"""

from .assistants import Assistant, AssistantCreate, AssistantUpdate, AssistantWarning
from .base import TTL_MAX_SECONDS, JSONObject, Page, PageQuery, Problem
from .chat import ChatContext, ChatCreate, ContextMessage, ContextQuery
from .keys import ApiKey, ApiKeyCreate, ApiKeyCreated, ApiKeyIdentity
from .legacy import LegacyThread, LegacyThreadCreate, LegacyThreadUpdate
from .messages import (
    FunctionCall,
    Message,
    MessageBatchCreate,
    MessageCreate,
    MessageDeleted,
    MessageListQuery,
    ThreadWithFlatMessageCreate,
    ThreadWithMessage,
    ThreadWithMessageBody,
    ThreadWithMessageCreate,
    ToolCall,
)
from .sessions import (
    AskRequest,
    AskResponse,
    SessionChatRequest,
    SessionCreated,
    SessionHistory,
    SessionList,
    SessionTurn,
)
from .spaces import Purge, PurgeCreate, Space, SpaceCreate, SpaceUpdate
from .state import State, StatePut, StateVersion
from .threads import Role, Thread, ThreadCreate, ThreadListQuery, ThreadStatus, ThreadUpdate

__all__ = [
    "ApiKey",
    "ApiKeyCreate",
    "ApiKeyCreated",
    "ApiKeyIdentity",
    "AskRequest",
    "AskResponse",
    "Assistant",
    "AssistantCreate",
    "AssistantUpdate",
    "AssistantWarning",
    "ChatContext",
    "ChatCreate",
    "ContextMessage",
    "ContextQuery",
    "FunctionCall",
    "JSONObject",
    "LegacyThread",
    "LegacyThreadCreate",
    "LegacyThreadUpdate",
    "Message",
    "MessageBatchCreate",
    "MessageCreate",
    "MessageDeleted",
    "MessageListQuery",
    "Page",
    "PageQuery",
    "Problem",
    "Purge",
    "PurgeCreate",
    "Role",
    "SessionChatRequest",
    "SessionCreated",
    "SessionHistory",
    "SessionList",
    "SessionTurn",
    "Space",
    "SpaceCreate",
    "SpaceUpdate",
    "State",
    "StatePut",
    "StateVersion",
    "TTL_MAX_SECONDS",
    "Thread",
    "ThreadCreate",
    "ThreadListQuery",
    "ThreadStatus",
    "ThreadUpdate",
    "ThreadWithMessage",
    "ThreadWithFlatMessageCreate",
    "ThreadWithMessageBody",
    "ThreadWithMessageCreate",
    "ToolCall",
]
