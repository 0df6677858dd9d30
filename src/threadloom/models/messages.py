"""Messages: one message, a batch, the query of a message list, and a new thread
with its first message (in the nested and the flat form).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    ConfigDict,
    Discriminator,
    Field,
    ModelWrapValidatorHandler,
    RootModel,
    StrictBool,
    StringConstraints,
    Tag,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .base import ImageURLs, JSONObject, ResourceId, _Query, _Request, _Response
from .items import derived_fields
from .threads import Thread, ThreadCreate

__all__ = [
    "FunctionCall",
    "Message",
    "MessageBatchCreate",
    "MessageCreate",
    "MessageDeleted",
    "MessageListQuery",
    "ThreadWithFlatMessageCreate",
    "ThreadWithMessage",
    "ThreadWithMessageBody",
    "ThreadWithMessageCreate",
    "ToolCall",
]

ToolCallId = Annotated[str, StringConstraints(min_length=1, max_length=256)]
_DERIVED: dict[str, Any] = {
    "role": None,
    "content": "",
    "images": [],
    "tool_calls": None,
    "tool_call_id": None,
}
"""The fields of a message that its item gives, when it has one, with their defaults."""
ParticipantName = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class FunctionCall(_Request):
    name: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    arguments: str = Field(description="The call's arguments, as the model wrote them (JSON).")


class ToolCall(_Request):
    """A tool call of an assistant message, as OpenAI's Chat Completions API writes it."""

    id: ToolCallId
    type: Literal["function"] = "function"
    function: FunctionCall


class MessageCreate(_Request):
    id: ResourceId | None = Field(
        None, description="Chosen by the client (unique within the thread); else generated."
    )
    role: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "user"
    content: str = ""
    images: ImageURLs = Field(default_factory=list)
    private: StrictBool = False
    metadata: JSONObject = Field(default_factory=dict)
    tool_calls: list[ToolCall] | None = Field(
        None, max_length=128, description="An assistant message's calls (content may be empty)."
    )
    tool_call_id: ToolCallId | None = Field(
        None, description="On a tool message: the tool call it answers."
    )
    name: ParticipantName | None = Field(
        None, description="Who wrote it: a participant, or the tool of a tool message."
    )
    item: JSONObject | None = Field(
        None,
        description=(
            "The provider item this message is (any item of OpenAI's Responses and "
            "Conversations APIs), kept whole; role, content, images and tool fields come "
            "from it and are not given. Its id is the message's."
        ),
    )

    @model_validator(mode="before")
    @classmethod
    def _fields_of_the_item(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("item") is None:
            return data
        item = data["item"]
        derived = derived_fields(item)
        # Given too (as an export writes them), they must be what the item gives.
        differ = sorted(
            key
            for key, default in _DERIVED.items()
            if data.get(key) is not None and data[key] != derived.get(key, default)
        )
        if differ:
            raise PydanticCustomError(
                "item_fields_differ",
                "{fields} come from the item and differ from what it gives",
                {"fields": ", ".join(differ)},
            )
        item_id = item.get("id")
        if item_id is not None:
            if data.get("id") not in (None, item_id):
                raise PydanticCustomError("item_id", "the message's id and its item's differ")
            derived["id"] = item_id
        return {**data, **derived}

    @model_validator(mode="after")
    def _tool_fields_fit_the_role(self) -> MessageCreate:
        if self.tool_calls is not None and self.role != "assistant":
            raise PydanticCustomError(
                "tool_calls_role", "tool_calls are made by assistant messages only"
            )
        if self.tool_call_id is not None and self.role != "tool":
            raise PydanticCustomError(
                "tool_call_id_role", "tool_call_id belongs on tool messages only"
            )
        return self


class MessageBatchCreate(_Request):
    messages: list[MessageCreate] = Field(min_length=1)


def _absent(value: object) -> bool:
    return value is None


class Message(_Response):
    object: Literal["message"] = "message"
    id: str
    thread_id: str
    seq: int
    role: str
    content: str
    images: list[str]
    private: bool
    metadata: JSONObject
    created_at: str
    # As the server writes them: present only when the message was given them.
    tool_calls: list[ToolCall] | None = Field(None, exclude_if=_absent)
    """Present on an assistant message that calls tools."""
    tool_call_id: str | None = Field(None, exclude_if=_absent)
    """Present on a tool message: the call it answers."""
    name: str | None = Field(None, exclude_if=_absent)
    """Present when the message was written with one."""
    item: JSONObject | None = Field(None, exclude_if=_absent)
    """Present when the message is a provider item: the item as it was given, with the
    message's id."""


class MessageDeleted(_Response):
    object: Literal["message.deleted"] = "message.deleted"
    id: str
    deleted: Literal[True] = True


class MessageListQuery(_Query):
    order: Literal["asc", "desc"] = Field(
        "asc", description="asc reads from the oldest message; desc from the newest."
    )
    include_private: bool = Field(False, description="Include private messages (not readers).")
    role: str | None = Field(None, description="Only messages of this role.")


class ThreadWithMessageCreate(_Request):
    """The nested form of a new thread with its first message: ``{"thread": {...},
    "message": {...}}``."""

    thread: ThreadCreate = Field(default_factory=ThreadCreate)
    message: MessageCreate

    message_loc: ClassVar[tuple[str, ...]] = ("message",)

    @property
    def first_message(self) -> MessageCreate:
        return self.message


class ThreadWithFlatMessageCreate(MessageCreate):
    """The flat form of a new thread with its first message: the message's fields at the top
    level, the thread's under ``thread``: ``{"content": "Starting a new conversation."}``."""

    content: str = Field(description="The first message's text (required in this form).")
    thread: ThreadCreate = Field(default_factory=ThreadCreate, description="The new thread.")

    message_loc: ClassVar[tuple[str, ...]] = ()

    @property
    def first_message(self) -> MessageCreate:
        fields = {name: getattr(self, name) for name in MessageCreate.model_fields}
        return MessageCreate.model_construct(self.model_fields_set - {"thread"}, **fields)


_FLAT_MESSAGE_FIELDS = frozenset(MessageCreate.model_fields)
_ONE_FORM = (
    "give the first message either under 'message' or as top-level fields (content, role, "
    "images, private, metadata, id, tool_calls, tool_call_id, name), not both"
)


def _first_message_form(value: Any) -> str | None:
    if isinstance(value, dict):
        return "nested" if "message" in value else "flat"
    if isinstance(value, ThreadWithMessageCreate):
        return "nested"
    if isinstance(value, ThreadWithFlatMessageCreate):
        return "flat"
    return None


class ThreadWithMessageBody(
    RootModel[
        Annotated[
            Annotated[ThreadWithMessageCreate, Tag("nested")]
            | Annotated[ThreadWithFlatMessageCreate, Tag("flat")],
            Discriminator(
                _first_message_form,
                custom_error_type="not_an_object",
                custom_error_message="the body must be a JSON object",
            ),
        ]
    ]
):
    """A new thread and its first message, in either form: nested (``message``) or flat (the
    message's fields at the top level). A body with ``message`` and top-level message fields
    is refused."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"content": "Starting a new conversation."},
                {"thread": {"title": "Support"}, "role": "user", "content": "Hello"},
                {"thread": {"title": "Support"}, "message": {"content": "Hello"}},
            ]
        }
    )

    @model_validator(mode="wrap")
    @classmethod
    def _one_form(
        cls, data: Any, handler: ModelWrapValidatorHandler[ThreadWithMessageBody]
    ) -> ThreadWithMessageBody:
        # Validated here rather than by the tagged union, so that errors are located as the
        # client wrote them (body.content, body.message.content), without the form's tag.
        if not isinstance(data, dict):
            return handler(data)
        if "message" in data:
            mixed = sorted(_FLAT_MESSAGE_FIELDS & data.keys())
            if mixed:
                raise PydanticCustomError(
                    "ambiguous_message",
                    _ONE_FORM + "; found 'message' and {fields}",
                    {"fields": ", ".join(repr(name) for name in mixed)},
                )
            return cls.model_construct(ThreadWithMessageCreate.model_validate(data))
        return cls.model_construct(ThreadWithFlatMessageCreate.model_validate(data))


class ThreadWithMessage(_Response):
    thread: Thread
    message: Message
