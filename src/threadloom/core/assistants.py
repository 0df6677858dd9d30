"""Assistants: the LLM configurations of a space, and which one answers a message.

Writer keys manage the space's ordinary assistants; only admin keys (the operator) make one
private, grant it to keys or give it an unlock phrase. A private assistant exists only for
admin keys and the keys it grants: to every other key it answers 404 like a missing one and
is left out of lists. Whoever writes its unlock phrase in a message is answered by it,
whatever assistant was asked for (see ``unlock``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal, NotRequired, TypedDict

from ..errors import Forbidden, NotFound, ValidationFailed
from ..ids import new_id
from ..models import AssistantCreate, AssistantUpdate, PageQuery
from ..store import Store
from ..store.base import PageSlice
from ..store.rows import AssistantChanges, AssistantFields, AssistantRow
from .auth import Principal
from .cursors import decode_cursor, encode_cursor
from .limits import LimitChecker
from .pages import page_of
from .spaces import merge_keys
from .unlock import (
    MIN_PHRASE_CHARS,
    SHORT_PHRASE_CHARS,
    find_unlock,
    normalize_phrase,
    seal_phrase,
)

__all__ = [
    "DEFAULT_ASSISTANT",
    "AssistantService",
    "AssistantView",
    "PhraseWarning",
    "ResolvedAssistant",
]

log = logging.getLogger("threadloom.assistants")

DEFAULT_ASSISTANT = "default"


class PhraseWarning(TypedDict):
    code: str
    detail: str


class AssistantView(TypedDict):
    """An assistant as it is shown (the wire's ``Assistant``): its row without the unlock
    secrets, with grants for admin keys only."""

    object: Literal["assistant"]
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
    grants: list[str]
    has_unlock_phrase: bool
    metadata: dict[str, Any]
    created_at: str | None
    """None for the built-in default (not stored)."""
    updated_at: str | None
    warnings: NotRequired[list[PhraseWarning]]
    """In the answer to a create or an update."""


@dataclass(frozen=True, slots=True)
class ResolvedAssistant:
    """The assistant that answers a message (wire shape), and the message's text to store
    (without the unlock phrase, when one was written)."""

    row: AssistantView
    text: str


def _not_found(assistant_id: str) -> NotFound:
    return NotFound(f"assistant {assistant_id!r} does not exist")


def _cursor(row: AssistantView) -> str:
    return encode_cursor(row["id"])


def _visible(principal: Principal, row: AssistantRow) -> bool:
    return (
        not row["private"]
        or principal.is_admin
        or (principal.key_id is not None and principal.key_id in row["grants"])
    )


def _wire(row: AssistantRow, principal: Principal | None) -> AssistantView:
    """The assistant as it is shown: no unlock secrets, grants only to admin keys."""
    return {
        "object": "assistant",
        "id": row["id"],
        "space_id": row["space_id"],
        "name": row["name"],
        "provider": row["provider"],
        "model": row["model"],
        "system_prompt": row["system_prompt"],
        "temperature": row["temperature"],
        "max_tokens": row["max_tokens"],
        "context_tokens": row["context_tokens"],
        "private": row["private"],
        "grants": list(row["grants"]) if principal is not None and principal.is_admin else [],
        "has_unlock_phrase": row["unlock_hash"] is not None,
        "metadata": row["metadata"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def _plain_changes(body: AssistantUpdate) -> AssistantChanges:
    """The fields a PATCH sets exactly as given (None resets provider, model, system_prompt,
    temperature and max_tokens to the server's defaults; the others are never null)."""
    given = body.model_fields_set
    changes: AssistantChanges = {}
    if "name" in given and body.name is not None:
        changes["name"] = body.name
    if "provider" in given:
        changes["provider"] = body.provider
    if "model" in given:
        changes["model"] = body.model
    if "system_prompt" in given:
        changes["system_prompt"] = body.system_prompt
    if "temperature" in given:
        changes["temperature"] = body.temperature
    if "max_tokens" in given:
        changes["max_tokens"] = body.max_tokens
    if "context_tokens" in given and body.context_tokens is not None:
        changes["context_tokens"] = body.context_tokens
    if "private" in given and body.private is not None:
        changes["private"] = body.private
    return changes


UnlockColumns = tuple[str | None, str | None, int | None]
"""``unlock_salt``, ``unlock_hash`` and ``unlock_words``."""


def _phrase_columns(phrase: str | None) -> UnlockColumns:
    if phrase is None:
        return None, None, None
    if len(normalize_phrase(phrase)) < MIN_PHRASE_CHARS:
        detail = "the unlock phrase must not be blank"
        raise ValidationFailed(
            detail,
            errors=[{"loc": ["body", "unlock_phrase"], "msg": detail, "type": "blank"}],
        )
    sealed = seal_phrase(phrase)
    return sealed.salt, sealed.hash, sealed.words


def _phrase_warnings(phrase: str | None, space_id: str, assistant_id: str) -> list[PhraseWarning]:
    """The warnings a phrase just saved deserves (logged without the phrase)."""
    if phrase is None or len(normalize_phrase(phrase)) >= SHORT_PHRASE_CHARS:
        return []
    log.warning(
        "assistant %r of space %r has an unlock phrase shorter than %d characters",
        assistant_id,
        space_id,
        SHORT_PHRASE_CHARS,
    )
    detail = (
        f"the unlock phrase is shorter than {SHORT_PHRASE_CHARS} characters: it is easy to "
        "guess, and any message that contains it is answered by this assistant"
    )
    return [{"code": "short_unlock_phrase", "detail": detail}]


def _operator_only(principal: Principal, fields: list[str]) -> None:
    if fields and not principal.is_admin:
        raise Forbidden(f"only an admin API key may set {', '.join(fields)}")


class AssistantService:
    def __init__(
        self, store: Store, limits: LimitChecker, *, system_prompt: str, context_tokens: int
    ) -> None:
        self.store = store
        self.limits = limits
        self.system_prompt = system_prompt
        self.context_tokens = context_tokens

    def builtin_default(self, space_id: str) -> AssistantView:
        """The assistant of a space that has none named ``default`` (it is not stored)."""
        return {
            "object": "assistant",
            "id": DEFAULT_ASSISTANT,
            "space_id": space_id,
            "name": "Default",
            "provider": None,
            "model": None,
            "system_prompt": self.system_prompt,
            "temperature": None,
            "max_tokens": None,
            "context_tokens": self.context_tokens,
            "private": False,
            "grants": [],
            "has_unlock_phrase": False,
            "metadata": {},
            "created_at": None,
            "updated_at": None,
        }

    # checks -----------------------------------------------------------------------------

    def _check_text(self, system_prompt: str | None, metadata: dict[str, Any] | None) -> None:
        if system_prompt is not None:
            self.limits.content(system_prompt, ("system_prompt",))
        if metadata is not None:
            self.limits.metadata(metadata)

    async def _check_grants(self, space_id: str, grants: list[str]) -> list[str]:
        """The grants, without repeats, once each is known to be an active key of this space
        or an admin key."""
        if not grants:
            return []
        keys = {row["id"]: row for row in await self.store.list_api_keys()}
        for index, key_id in enumerate(grants):
            key = keys.get(key_id)
            if (
                key is None
                or key["revoked_at"] is not None
                or (key["role"] != "admin" and key["space_id"] != space_id)
            ):
                detail = (
                    f"{key_id!r} is not an active API key of space {space_id!r} or an admin key"
                )
                raise ValidationFailed(
                    f"grants[{index}]: {detail}",
                    errors=[{"loc": ["body", "grants", index], "msg": detail, "type": "grant"}],
                )
        return list(dict.fromkeys(grants))

    async def _get_visible(
        self, principal: Principal, space_id: str, assistant_id: str
    ) -> AssistantRow:
        principal.require_space(space_id)
        row = await self.store.get_assistant(space_id, assistant_id)
        if row is None or not _visible(principal, row):
            raise _not_found(assistant_id)
        return row

    # CRUD -------------------------------------------------------------------------------

    async def create(
        self, principal: Principal, space_id: str, body: AssistantCreate
    ) -> AssistantView:
        principal.require_writer(space_id)
        _operator_only(
            principal,
            [
                name
                for name, value in (
                    ("private", body.private),
                    ("grants", body.grants),
                    ("unlock_phrase", body.unlock_phrase),
                )
                if value
            ],
        )
        self._check_text(body.system_prompt, body.metadata)
        grants = await self._check_grants(space_id, body.grants)
        salt, digest, words = _phrase_columns(body.unlock_phrase)
        fields: AssistantFields = {
            "id": body.id or new_id("ast"),
            "name": body.name,
            "provider": body.provider,
            "model": body.model,
            "system_prompt": body.system_prompt,
            "temperature": body.temperature,
            "max_tokens": body.max_tokens,
            "context_tokens": body.context_tokens or self.context_tokens,
            "private": body.private,
            "grants": grants,
            "metadata": body.metadata,
            "unlock_salt": salt,
            "unlock_hash": digest,
            "unlock_words": words,
        }
        created = _wire(await self.store.create_assistant(space_id, fields), principal)
        created["warnings"] = _phrase_warnings(body.unlock_phrase, space_id, created["id"])
        return created

    async def get(self, principal: Principal, space_id: str, assistant_id: str) -> AssistantView:
        return _wire(await self._get_visible(principal, space_id, assistant_id), principal)

    async def list_assistants(
        self, principal: Principal, space_id: str, query: PageQuery
    ) -> dict[str, Any]:
        principal.require_space(space_id)
        after = decode_cursor(query.after, "after", (str,))[0] if query.after else None
        before = decode_cursor(query.before, "before", (str,))[0] if query.before else None
        page = await self.store.list_assistants(
            space_id,
            query.limit,
            after,
            before,
            include_private=principal.is_admin,
            granted_to=principal.key_id,
        )
        rows = [_wire(row, principal) for row in page.rows]
        return page_of(PageSlice(rows, page.has_more), _cursor)

    async def update(
        self, principal: Principal, space_id: str, assistant_id: str, body: AssistantUpdate
    ) -> AssistantView:
        principal.require_writer(space_id)
        given = body.model_fields_set
        _operator_only(
            principal,
            [
                name
                for name in ("private", "grants", "unlock_phrase")
                if name in given and (name != "private" or body.private)
            ],
        )
        self._check_text(body.system_prompt, None)
        changes = _plain_changes(body)
        if body.grants is not None:
            changes["grants"] = await self._check_grants(space_id, body.grants)
        if "unlock_phrase" in given:
            salt, digest, words = _phrase_columns(body.unlock_phrase)
            changes["unlock_salt"], changes["unlock_hash"] = salt, digest
            changes["unlock_words"] = words

        def mutate(row: AssistantRow) -> AssistantChanges:
            if not _visible(principal, row):
                raise _not_found(assistant_id)
            if row["private"] and not principal.is_admin:
                raise Forbidden("only an admin API key may change a private assistant")
            if body.metadata is not None:
                changes["metadata"] = merge_keys(row["metadata"], body.metadata)
                self.limits.metadata(changes["metadata"])
            return changes

        row = await self.store.update_assistant(space_id, assistant_id, mutate)
        if row is None:
            raise _not_found(assistant_id)
        updated = _wire(row, principal)
        updated["warnings"] = _phrase_warnings(body.unlock_phrase, space_id, assistant_id)
        return updated

    async def delete(self, principal: Principal, space_id: str, assistant_id: str) -> None:
        principal.require_writer(space_id)
        row = await self._get_visible(principal, space_id, assistant_id)
        if row["private"] and not principal.is_admin:
            raise Forbidden("only an admin API key may delete a private assistant")
        if not await self.store.delete_assistant(space_id, assistant_id):
            raise _not_found(assistant_id)

    # who answers ------------------------------------------------------------------------

    async def _unlocked(self, space_id: str, text: str) -> tuple[AssistantRow, str] | None:
        if not text:
            return None
        rows = await self.store.list_unlockable_assistants(space_id)
        return find_unlock(rows, text) if rows else None

    async def find_unlock(self, space_id: str, text: str) -> tuple[AssistantView, str] | None:
        """The private assistant whose unlock phrase ``text`` contains (wire shape, without
        grants), and ``text`` without the phrase; or None."""
        found = await self._unlocked(space_id, text)
        return (_wire(found[0], None), found[1]) if found is not None else None

    async def resolve(
        self, principal: Principal, space_id: str, requested: str | None, text: str
    ) -> ResolvedAssistant:
        """Who answers ``text``: the private assistant whose unlock phrase it contains (the
        phrase is taken out of the text), else ``requested`` (404 when this key cannot see
        it), else the space's assistant ``default``, else the built-in default."""
        principal.require_space(space_id)
        unlocked = await self._unlocked(space_id, text)
        if unlocked is not None:
            return ResolvedAssistant(_wire(unlocked[0], principal), unlocked[1])
        wanted = requested or DEFAULT_ASSISTANT
        row = await self.store.get_assistant(space_id, wanted)
        if row is not None and _visible(principal, row):
            return ResolvedAssistant(_wire(row, principal), text)
        if wanted != DEFAULT_ASSISTANT:
            raise _not_found(wanted)
        return ResolvedAssistant(self.builtin_default(space_id), text)
