"""A thread's versioned JSON state."""

from __future__ import annotations

from typing import Any, Literal

from .base import _Request, _Response

__all__ = ["State", "StatePut", "StateVersion"]


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
