"""The original's records (its SQLAlchemy rows), as small dataclasses with the same field
names: JSON columns stay JSON text, as the original stored them."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = ["RoleMessageRecord", "RoleThreadRecord"]


@dataclass
class RoleMessageRecord:
    """A message as the original stored it (its SQLAlchemy row): ``images`` is a JSON list and
    ``meta_data`` a JSON object (None when empty)."""

    id: str
    role: str
    text: str
    images: str | None = None
    private: bool | None = False
    created: float = field(default_factory=time.time)
    meta_data: str | None = None
    thread_id: str | None = None


@dataclass
class RoleThreadRecord:
    """A thread as the original stored it (its SQLAlchemy row): ``role_mapping`` and
    ``meta_data`` are JSON text, ``messages`` the thread's message records."""

    id: str
    owner_id: str | None = None
    public: bool = False
    name: str | None = None
    role_mapping: str | None = None
    meta_data: str | None = None
    remote: str | None = None
    version: str | None = None
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    messages: list[RoleMessageRecord] = field(default_factory=list)
