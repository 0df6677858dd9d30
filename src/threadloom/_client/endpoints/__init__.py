"""Every endpoint of the threadloom API, described once, grouped as the client's namespaces.

Each method returns the ``Call`` to make; ``Endpoint`` turns it into the method users call on
``Client`` (which returns the value) and on ``AsyncClient`` (which returns an awaitable).
Options are keyword-only; a parameter left as None is not sent, so the server's default
applies. Every create sends an ``Idempotency-Key`` (``idempotency_key=``, or a new one per
call), which is what makes retrying it safe.
"""

from .assistants import AssistantChanges, AssistantEndpoints, AssistantFields
from .chat import ChatEndpoints, EventEndpoints
from .health import ServiceEndpoints
from .keys import KeyEndpoints
from .legacy import LegacyEndpoints
from .messages import MessageEndpoints
from .rolethreads import RoleThreadEndpoints
from .spaces import SpaceChanges, SpaceEndpoints
from .state import StateEndpoints
from .threads import ThreadChanges, ThreadEndpoints, ThreadFields

__all__ = [
    "AssistantChanges",
    "AssistantEndpoints",
    "AssistantFields",
    "ChatEndpoints",
    "EventEndpoints",
    "KeyEndpoints",
    "LegacyEndpoints",
    "MessageEndpoints",
    "RoleThreadEndpoints",
    "ServiceEndpoints",
    "SpaceChanges",
    "SpaceEndpoints",
    "StateEndpoints",
    "ThreadChanges",
    "ThreadEndpoints",
    "ThreadFields",
]
