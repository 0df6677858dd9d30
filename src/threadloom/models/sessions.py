"""The original session API (``/ask``, ``/new_session``, ``/chat``, ``/sessions``,
``/session/{id}/history``).
"""

from __future__ import annotations

from .base import ResourceId, _Request, _Response

__all__ = [
    "AskRequest",
    "AskResponse",
    "SessionChatRequest",
    "SessionCreated",
    "SessionHistory",
    "SessionList",
    "SessionTurn",
]


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
