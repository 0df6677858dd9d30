"""Assistants: who answers a chat, with which provider, model and prompt."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StringConstraints, field_validator

from .base import JSONObject, ResourceId, _Request, _Response

__all__ = ["Assistant", "AssistantCreate", "AssistantUpdate", "AssistantWarning"]


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
