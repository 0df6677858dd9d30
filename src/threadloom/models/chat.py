"""Chat: a message answered by an assistant, and the context the model is sent."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, StrictBool

from ..validation import StorableInput
from .base import ImageURLs, JSONObject, ResourceId, _Request, _Response
from .messages import ToolCall

__all__ = ["ChatContext", "ChatCreate", "ContextMessage", "ContextQuery"]


class ChatCreate(_Request):
    content: str = Field(description="The user's message.")
    assistant: ResourceId | None = Field(
        None, description="The assistant to answer; the space's default when omitted."
    )
    stream: StrictBool = Field(False, description="Answer with Server-Sent Events.")
    images: ImageURLs = Field(default_factory=list)
    metadata: JSONObject = Field(default_factory=dict)


class ContextMessage(_Response):
    id: str | None = Field(description="The thread message's id; null for the system prompt.")
    role: str
    name: str | None
    content: str
    images: list[str]
    tool_calls: list[ToolCall] | None = Field(None, description="An assistant's calls.")
    tool_call_id: str | None = Field(None, description="The call a tool result answers.")


class ChatContext(_Response):
    object: Literal["thread.context"] = "thread.context"
    assistant: str
    max_tokens: int
    tokens: int = Field(description="The estimated prompt tokens of these messages.")
    truncated: bool = Field(description="Older messages exist that did not fit.")
    messages: list[ContextMessage]


class ContextQuery(StorableInput):
    model_config = ConfigDict(extra="ignore", frozen=True)
    input_loc = "query"

    max_tokens: int | None = Field(
        None, ge=16, le=10_000_000, description="The budget; the assistant's when omitted."
    )
    assistant: str | None = Field(None, description="The assistant; the default when omitted.")
