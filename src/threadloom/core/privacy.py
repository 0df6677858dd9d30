"""Who is returned private messages: decided here, for every route that returns messages.

A private message is part of its thread: it is stored, counted and sent to the thread's
assistant like any other (see :mod:`.context`). Privacy decides only what a *caller* gets
back. The rule, in full:

* A reader key is never returned a private message, by any route. Asking for them
  (``include_private=true``) is refused with 403 rather than answered without them, which
  would read as "there are none".
* Writer and admin keys (and an open server, which acts as admin) are returned them where
  they ask (``include_private=true`` on a page of messages, the CLI's export) and where a
  route shows all its caller may see: live events and their replay, the original threadmem
  wire API (``/v1/rolethreads``) and the context a chat would send (``.../context``).
* The original session API's history (``/session/{id}/history``) pairs user inputs with
  replies and leaves private messages out for every key, as it always has.

Every service that returns message content asks :func:`shows_private` (once per request)
or :func:`may_see` (per message, for events already made); nothing else reads a key's role
to decide it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import Forbidden
from .auth import Principal

__all__ = ["may_see", "shows_private"]


def shows_private(principal: Principal, include_private: bool | None = None) -> bool:
    """Whether what ``principal`` is returned includes private messages.

    ``include_private`` is what the request asked: ``True``/``False`` where the route takes
    the parameter, ``None`` where it has none and returns all its caller may see."""
    allowed = principal.role != "reader"
    if include_private is None:
        return allowed
    if include_private and not allowed:
        raise Forbidden("reader keys never see private messages")
    return include_private


def may_see(principal: Principal, message: Mapping[str, Any]) -> bool:
    """Whether ``message`` (a message row, or an event's data that carries one) may be
    returned to ``principal`` by a route that shows all its caller may see."""
    return not message.get("private", False) or shows_private(principal)
