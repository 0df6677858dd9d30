"""The original's conversions of a ``RoleThread``: OpenAI messages, the V1 wire schemas and
the original's records."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Self

from .access import access_for
from .base import ThreadBase
from .messages import RoleMessage
from .records import RoleThreadRecord
from .schemas import V1Role, V1RoleThread, V1UpdateRoleThread

__all__ = ["ThreadConversions"]


class ThreadConversions(ThreadBase):
    """The conversions of ``RoleThread`` (see the module's docstring)."""

    @classmethod
    def from_openai(cls, msgs: Iterable[Mapping[str, Any]]) -> Self:
        """A new local thread holding these OpenAI chat messages (appended in batches)."""
        thread = cls()
        thread._append([RoleMessage.from_openai(msg) for msg in msgs])
        return thread

    def to_openai(self) -> list[dict[str, Any]]:
        return [message.to_openai() for message in self.messages()]

    def to_update_schema(self) -> V1UpdateRoleThread:
        return V1UpdateRoleThread(name=self._name, public=self._public, metadata=self._metadata)

    def to_v1(self) -> V1RoleThread:
        """The whole thread, messages included (read from the store)."""
        return V1RoleThread(
            id=self._id,
            owner_id=self._owner_id,
            public=self._public,
            name=self._name,
            metadata=self._metadata,
            messages=[message.to_v1() for message in self.messages()],
            role_mapping=dict(self._role_mapping),
            version=self.version,
            created=self._created,
            updated=self._updated,
            remote=self._remote,
        )

    @classmethod
    def from_v1(cls, schema: V1RoleThread) -> Self:
        """A thread object holding ``schema`` (messages included) until it is saved; it
        lives where ``schema.remote`` says."""
        messages = [RoleMessage.from_v1(message) for message in schema.messages]
        return cls._detached(
            schema.id,
            schema.remote,
            fields=(schema.owner_id, schema.public, schema.name, schema.metadata),
            role_mapping=dict(schema.role_mapping),
            times=(schema.created, schema.updated),
            version=schema.version,
            messages=messages,
        )

    def to_record(self) -> RoleThreadRecord:
        """The whole thread as the original's record, messages included."""
        roles = {key: role.model_dump() for key, role in self._role_mapping.items()}
        return RoleThreadRecord(
            id=self._id,
            owner_id=self._owner_id,
            public=self._public,
            name=self._name,
            role_mapping=json.dumps(roles),
            meta_data=json.dumps(self._metadata) if self._metadata else None,
            remote=self._remote,
            version=self.version,
            created=self._created,
            updated=self._updated,
            messages=[message.to_record() for message in self.messages()],
        )

    @classmethod
    def from_record(cls, record: RoleThreadRecord) -> Self:
        """Like ``from_v1``, from the original's record."""
        roles = json.loads(record.role_mapping) if record.role_mapping else {}
        return cls._detached(
            record.id,
            record.remote,
            fields=(
                record.owner_id,
                bool(record.public),
                record.name,
                json.loads(record.meta_data) if record.meta_data else None,
            ),
            role_mapping={key: V1Role(**role) for key, role in roles.items()},
            times=(record.created, record.updated),
            version=record.version,
            messages=[RoleMessage.from_record(message) for message in record.messages],
        )

    @classmethod
    def _detached(
        cls,
        thread_id: str,
        remote: str | None,
        *,
        fields: tuple[str | None, bool, str | None, dict[str, Any] | None],
        role_mapping: dict[str, V1Role],
        times: tuple[float, float],
        version: str | None,
        messages: list[RoleMessage],
    ) -> Self:
        obj = cls.__new__(cls)
        obj._access, obj._remote, obj._id = access_for(remote), remote, thread_id
        obj._owner_id, obj._public, obj._name, obj._metadata = fields
        obj._role_mapping = role_mapping
        obj._created, obj._updated = times
        obj._updated_at = None
        obj._message_count, obj._state_version = len(messages), 0
        obj._version = version
        obj._snapshot = messages
        return obj
