"""The original minimal thread API (``/threads/``)."""

from __future__ import annotations

from typing import Any

from .base import ResourceId, _Request, _Response

__all__ = ["LegacyThread", "LegacyThreadCreate", "LegacyThreadUpdate"]


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
