"""Assistants of a space: ``client.assistants``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypedDict, Unpack

from ...models import Assistant, Page
from ..calls import (
    Call,
    Endpoint,
    JSONMapping,
    Pages,
    decode,
    encode,
    given,
    idempotency,
    no_content,
    path,
    query,
)

__all__ = ["AssistantChanges", "AssistantEndpoints", "AssistantFields"]

Provider = Literal["offline", "openai"]


class AssistantFields(TypedDict, total=False):
    """The fields of a new assistant besides its name (``threadloom.models.AssistantCreate``);
    None means unset. ``private``, ``grants`` and ``unlock_phrase`` take an admin key."""

    id: str | None
    provider: Provider | None
    model: str | None
    system_prompt: str | None
    temperature: float | None
    max_tokens: int | None
    context_tokens: int | None
    private: bool
    grants: Sequence[str]
    unlock_phrase: str | None
    metadata: JSONMapping | None


class AssistantChanges(TypedDict, total=False):
    """What ``assistants.update`` changes (``threadloom.models.AssistantUpdate``): only the
    fields given. None resets ``provider``, ``model``, ``system_prompt``, ``temperature``
    and ``max_tokens`` to the server's defaults and removes the ``unlock_phrase``;
    ``metadata`` is merged key by key, and a key set to None is removed."""

    name: str
    provider: Provider | None
    model: str | None
    system_prompt: str | None
    temperature: float | None
    max_tokens: int | None
    context_tokens: int
    private: bool
    grants: Sequence[str]
    unlock_phrase: str | None
    metadata: Mapping[str, Any | None]


def _assistant_path(space: str, *rest: str) -> str:
    return path("v1", "spaces", space, "assistants", *rest)


class AssistantEndpoints:
    """Assistants: the LLM configurations of a space. A private one is seen only by admin
    keys and the keys it grants; to others it does not exist."""

    @Endpoint
    def create(
        self,
        space: str,
        name: str,
        *,
        idempotency_key: str | None = None,
        **fields: Unpack[AssistantFields],
    ) -> Call[Assistant]:
        """Create an assistant: ``create("default", "Ada", model="gpt-4o-mini")``. The
        ``unlock_phrase`` is never shown again (``has_unlock_phrase`` says there is one);
        one under 8 characters is saved, with a ``short_unlock_phrase`` in ``warnings``."""
        return Call(
            "POST",
            _assistant_path(space),
            decode(Assistant),
            content=encode({"name": name, **given(fields)}),
            headers=idempotency(idempotency_key),
        )

    @Endpoint
    def list(
        self,
        space: str,
        *,
        limit: int | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> Call[Page[Assistant]]:
        """A page of the space's assistants this key sees, by id."""
        params = query(limit=limit, after=after, before=before)
        return Call("GET", _assistant_path(space), decode(Page[Assistant]), params=params)

    iter = Pages(list)

    @Endpoint
    def get(self, space: str, assistant: str) -> Call[Assistant]:
        """One assistant."""
        return Call("GET", _assistant_path(space, assistant), decode(Assistant))

    @Endpoint
    def update(
        self, space: str, assistant: str, **changes: Unpack[AssistantChanges]
    ) -> Call[Assistant]:
        """Change an assistant's fields (see ``AssistantChanges``). Setting the same fields
        again has no further effect, so it is retried like a PUT."""
        return Call(
            "PATCH", _assistant_path(space, assistant), decode(Assistant), content=encode(changes)
        )

    @Endpoint
    def delete(self, space: str, assistant: str) -> Call[None]:
        """Delete an assistant. Retried after a lost answer, a delete that got through
        answers ``NotFound``."""
        return Call("DELETE", _assistant_path(space, assistant), no_content)
