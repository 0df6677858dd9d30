"""Wire schemas shared by the server and the client (pydantic v2).

Requests forbid unknown fields, so a misspelt field is an error rather than silently ignored.
Responses allow extra fields, so an older client keeps working against a newer server.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Generic, Literal, Self, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    ModelWrapValidatorHandler,
    RootModel,
    StrictBool,
    StrictInt,
    StringConstraints,
    Tag,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .ids import ID_PATTERN
from .validation import StorableInput

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
    "JSONObject",
    "LegacyThread",
    "LegacyThreadCreate",
    "LegacyThreadUpdate",
    "Message",
    "MessageBatchCreate",
    "MessageCreate",
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
]

JSONObject = dict[str, Any]
ResourceId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
ThreadStatus = Literal["active", "archived"]
KeyRole = Literal["admin", "writer", "reader"]
T = TypeVar("T")
TTL_MAX_SECONDS = 10 * 365 * 24 * 3600
TTLSeconds = Annotated[StrictInt, Field(ge=1, le=TTL_MAX_SECONDS)]
"""A time to live: one second to ten years."""


def _image_urls(images: list[str]) -> list[str]:
    for index, url in enumerate(images):
        if not url.startswith(("http://", "https://", "data:")):
            raise ValueError(f"images[{index}] must be an http(s) or data: URL")
    return images


ImageURLs = Annotated[list[str], AfterValidator(_image_urls)]
"""A message's images: http(s) or data: URLs (the same rule wherever a message is made)."""


class _Request(StorableInput):
    """A request body: no unknown fields, and only what every backend can store
    (validation.py)."""

    model_config = ConfigDict(extra="forbid")


class _Response(BaseModel):
    model_config = ConfigDict(extra="allow")


class Role(BaseModel):
    """Who speaks as a role in a thread: ``role_mapping["assistant"] = Role(name="Ada", ...)``."""

    name: str
    user_id: str | None = None
    user_name: str | None = None
    icon: str | None = None
    description: str | None = None


# Spaces -----------------------------------------------------------------------------------


class SpaceCreate(_Request):
    id: ResourceId | None = None
    name: str | None = None
    metadata: JSONObject = Field(default_factory=dict)
    default_thread_ttl_seconds: TTLSeconds | None = Field(
        None,
        description="The time to live of threads created in the space without a ttl_seconds "
        "of their own; null: they never expire.",
    )


class SpaceUpdate(_Request):
    name: str | None = None
    metadata: dict[str, Any | None] | None = Field(
        None, description="Merged key by key; a key set to null is removed."
    )
    default_thread_ttl_seconds: TTLSeconds | None = Field(
        None,
        description="Applies to threads created from now on; null removes the default. "
        "Absent: unchanged.",
    )


class Space(_Response):
    object: Literal["space"] = "space"
    id: str
    name: str
    metadata: JSONObject
    created_at: str
    default_thread_ttl_seconds: int | None = None


class PurgeCreate(_Request):
    owner_id: Annotated[str, StringConstraints(min_length=1)] = Field(
        description="Every thread of this owner in the space is deleted, with its messages "
        "and state."
    )


class Purge(_Response):
    object: Literal["purge"] = "purge"
    owner_id: str
    deleted: int = Field(description="How many threads were deleted.")


# Threads ----------------------------------------------------------------------------------


class ThreadCreate(_Request):
    id: ResourceId | None = None
    title: str | None = None
    owner_id: str | None = None
    public: StrictBool = False
    metadata: JSONObject = Field(default_factory=dict)
    state: Any = None
    role_mapping: dict[str, Role] = Field(default_factory=dict)
    ttl_seconds: TTLSeconds | None = Field(
        None,
        description="Seconds until the thread, its messages and state are deleted (counted "
        "from creation; appending does not extend it). Absent or null: the space's "
        "default_thread_ttl_seconds, if any.",
    )
    expires_at: AwareDatetime | None = Field(
        None,
        description="Instead of ttl_seconds, the instant the thread, its messages and state "
        "are deleted: an RFC 3339 time with its UTC offset, in the future and at most ten "
        "years away (as a thread's own expires_at reads, so a copy keeps the original's "
        "expiry). Absent or null: ttl_seconds, or the space's default.",
    )

    @model_validator(mode="after")
    def _one_expiry(self) -> Self:
        if self.ttl_seconds is not None and self.expires_at is not None:
            raise ValueError("give ttl_seconds or expires_at, not both")
        return self


class ThreadUpdate(_Request):
    title: str | None = None
    status: ThreadStatus | None = None
    public: StrictBool | None = None
    owner_id: str | None = None
    metadata: dict[str, Any | None] | None = Field(
        None, description="Merged key by key; a key set to null is removed."
    )
    role_mapping: dict[str, Role | None] | None = Field(
        None, description="Merged role by role; a role set to null is removed."
    )
    ttl_seconds: TTLSeconds | None = Field(
        None,
        description="The thread now expires this many seconds from now; null: it never "
        "expires. Absent: unchanged.",
    )


class Thread(_Response):
    object: Literal["thread"] = "thread"
    id: str
    space_id: str
    title: str | None
    owner_id: str | None
    public: bool
    status: ThreadStatus
    metadata: JSONObject
    state: Any
    state_version: int
    role_mapping: dict[str, Role]
    message_count: int
    created_at: str
    updated_at: str
    archived_at: str | None
    expires_at: str | None = Field(
        None, description="When the thread and everything in it is deleted; null: never."
    )


# Messages ---------------------------------------------------------------------------------


class MessageCreate(_Request):
    id: ResourceId | None = Field(
        None, description="Chosen by the client (unique within the thread); else generated."
    )
    role: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "user"
    content: str = ""
    images: ImageURLs = Field(default_factory=list)
    private: StrictBool = False
    metadata: JSONObject = Field(default_factory=dict)


class MessageBatchCreate(_Request):
    messages: list[MessageCreate] = Field(min_length=1)


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
    "images, private, metadata, id), not both"
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


# State ------------------------------------------------------------------------------------


class StatePut(_Request):
    state: Any


class State(_Response):
    object: Literal["thread.state"] = "thread.state"
    thread_id: str
    state: Any
    version: int
    updated_at: str | None


class StateVersion(_Response):
    object: Literal["thread.state.version"] = "thread.state.version"
    version: int
    state: Any
    created_at: str


# List queries (the query string of list endpoints) ----------------------------------------


class _Query(StorableInput):
    model_config = ConfigDict(extra="ignore", frozen=True)
    input_loc = "query"

    limit: int = Field(20, ge=1, le=100, description="Items per page, 1 to 100.")
    after: str | None = Field(None, description="A page's last_id: the items after it.")
    before: str | None = Field(None, description="A page's first_id: the items before it.")


class PageQuery(_Query):
    pass


class MessageListQuery(_Query):
    order: Literal["asc", "desc"] = Field(
        "asc", description="asc reads from the oldest message; desc from the newest."
    )
    include_private: bool = Field(False, description="Include private messages (not readers).")
    role: str | None = Field(None, description="Only messages of this role.")


class ThreadListQuery(_Query):
    status: Literal["active", "archived", "all"] = "active"
    owner_id: str | None = None
    title: str | None = Field(None, description="The exact title.")
    public: bool | None = None
    q: str | None = Field(
        None, description="A substring of the title, compared after Unicode case folding."
    )
    order_by: Literal["updated_at", "created_at"] = "updated_at"
    order: Literal["asc", "desc"] = "desc"
    metadata: tuple[tuple[str, str], ...] = Field(
        (),
        description="From metadata[KEY]=VALUE parameters, all of which must match: VALUE "
        "equals the scalar at KEY (a string as text, true/false, a number by value, so 1e+20 "
        "matches 100000000000000000000); null, objects and arrays never match.",
        json_schema_extra={"x-threadloom-internal": True},
    )


# Pages and problems -----------------------------------------------------------------------


class Page(_Response, Generic[T]):
    """One page of a list. Pass ``last_id`` as ``after`` (or ``first_id`` as ``before``)."""

    object: Literal["list"] = "list"
    data: list[T]
    has_more: bool
    first_id: str | None
    last_id: str | None


class Problem(_Response):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[JSONObject] | None = None


# Chat and the original session API --------------------------------------------------------


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


class AskRequest(_Request):
    session_id: ResourceId | None = None
    user_input: str


class AskResponse(_Response):
    session_id: str
    response: str


class SessionCreated(_Response):
    session_id: str


class SessionChatRequest(_Request):
    session_id: ResourceId | None = None
    message: str


class SessionList(_Response):
    sessions: list[str]


class SessionTurn(_Response):
    input: str
    output: str | None


class SessionHistory(_Response):
    history: list[SessionTurn]


# API keys ---------------------------------------------------------------------------------


class ApiKeyCreate(_Request):
    role: KeyRole = "writer"
    space_id: ResourceId | None = None
    name: str | None = None


class ApiKey(_Response):
    object: Literal["api_key"] = "api_key"
    id: str
    name: str | None
    role: KeyRole
    space_id: str | None
    prefix: str
    created_at: str
    revoked_at: str | None


class ApiKeyCreated(ApiKey):
    key: str = Field(description="The secret. It is shown once and stored only as a hash.")


class ApiKeyIdentity(_Response):
    """Who a request acts as: what ``GET /v1/keys/me`` tells the key it was sent with."""

    object: Literal["api_key_identity"] = "api_key_identity"
    key_id: str | None = Field(
        description="The key's id; null on a server without keys (open on loopback)."
    )
    role: KeyRole = Field(description="admin, writer or reader (admin on an open server).")
    space_id: str | None = Field(
        description="The one space a writer or reader key works in; null for admin keys, "
        "which reach every space."
    )


# The original minimal thread API ----------------------------------------------------------


class LegacyThreadCreate(_Request):
    thread_id: ResourceId
    state: Any = None
    initial_message: str | None = None


class LegacyThreadUpdate(_Request):
    thread_id: ResourceId | None = None
    state: Any


class LegacyThread(_Response):
    thread_id: str
    state: Any


# Assistants -------------------------------------------------------------------------------

AssistantName = Annotated[str, StringConstraints(min_length=1, max_length=100)]
AssistantProvider = Literal["offline", "openai"]
ModelName = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Temperature = Annotated[float, Field(ge=0, le=2)]
ReplyTokens = Annotated[int, Field(ge=1, le=100_000)]
ContextTokens = Annotated[int, Field(ge=256, le=1_000_000)]
Grants = Annotated[list[ResourceId], Field(max_length=100)]
UnlockPhrase = Annotated[str, StringConstraints(min_length=1, max_length=200)]

_PROVIDER = "``offline`` or ``openai``; null: the server's default provider."
_MODEL = "The provider's model; null: the server's default model."
_MAX_TOKENS = "The longest reply, in tokens; null: the provider's default."
_CONTEXT_TOKENS = "How many tokens of the thread the model is sent (system prompt included)."
_PRIVATE = "Seen only by admin keys and the keys in grants; everyone else gets 404 (admin only)."
_GRANTS = "Ids of API keys (of this space, or admin) that may see a private assistant (admin only)."
_UNLOCK_PHRASE = (
    "Write-only (admin only). A user message that contains it (as whole words) is answered "
    "by this private assistant, and reaches the thread without it. Stored as a salted hash "
    "only. 1 to 200 characters, not blank; one shorter than 8 characters is accepted with a "
    "short_unlock_phrase warning in the response."
)


class AssistantCreate(_Request):
    id: ResourceId | None = None
    name: AssistantName = Field(description="Unique in the space.")
    provider: AssistantProvider | None = Field(None, description=_PROVIDER)
    model: ModelName | None = Field(None, description=_MODEL)
    system_prompt: str | None = None
    temperature: Temperature | None = None
    max_tokens: ReplyTokens | None = Field(None, description=_MAX_TOKENS)
    context_tokens: ContextTokens | None = Field(
        None, description=_CONTEXT_TOKENS + " Default: THREADLOOM_LLM_CONTEXT_TOKENS."
    )
    private: StrictBool = Field(False, description=_PRIVATE)
    grants: Grants = Field(default_factory=list, description=_GRANTS)
    unlock_phrase: UnlockPhrase | None = Field(None, description=_UNLOCK_PHRASE)
    metadata: JSONObject = Field(default_factory=dict)


class AssistantUpdate(_Request):
    """Only the fields given change. ``null`` resets provider, model, system_prompt,
    temperature and max_tokens to the server's defaults and removes the unlock phrase."""

    name: AssistantName | None = None
    provider: AssistantProvider | None = Field(None, description=_PROVIDER)
    model: ModelName | None = Field(None, description=_MODEL)
    system_prompt: str | None = None
    temperature: Temperature | None = None
    max_tokens: ReplyTokens | None = Field(None, description=_MAX_TOKENS)
    context_tokens: ContextTokens | None = Field(None, description=_CONTEXT_TOKENS)
    private: StrictBool | None = Field(None, description=_PRIVATE)
    grants: Grants | None = Field(None, description=_GRANTS)
    unlock_phrase: UnlockPhrase | None = Field(None, description=_UNLOCK_PHRASE)
    metadata: dict[str, Any | None] | None = Field(
        None, description="Merged key by key; a key set to null is removed."
    )

    @field_validator("name", "context_tokens", "private", "grants", "metadata", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be null")
        return value


class AssistantWarning(_Response):
    """Advice about an assistant just created or changed: it was saved as asked."""

    code: str = Field(
        description="What it is about. ``short_unlock_phrase``: the unlock phrase is shorter "
        "than 8 characters, so it is easy to guess or to write by chance."
    )
    detail: str


class Assistant(_Response):
    object: Literal["assistant"] = "assistant"
    id: str
    space_id: str
    name: str
    provider: str | None
    model: str | None
    system_prompt: str | None
    temperature: float | None
    max_tokens: int | None
    context_tokens: int
    private: bool
    grants: list[str] = Field(description="Shown to admin keys only; others see [].")
    has_unlock_phrase: bool
    metadata: JSONObject
    created_at: str | None = Field(description="Null for the built-in default (not stored).")
    updated_at: str | None
    warnings: list[AssistantWarning] = Field(
        default_factory=list,
        description="In the answer to a create or an update: advice about what was saved "
        "(empty when there is none). Reads leave it out.",
    )
