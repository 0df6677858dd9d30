"""threadloom: open conversation memory for LLM applications.

``import threadloom`` is the client side, and light: it pulls in no server dependency.

    import threadloom

    with threadloom.Client() as client:  # THREADLOOM_URL, THREADLOOM_API_KEY
        thread = client.threads.create("default", title="Support chat")
        client.messages.create("default", thread.id, "Hi!")

The original ``threadmem`` library's ``RoleThread`` API lives in ``threadloom.threadmem``.
"""

from ._client.streams import ChatEvent, LiveEvent
from ._version import __version__
from .client import AsyncClient, Client
from .errors import (
    AlreadyExists,
    Conflict,
    Forbidden,
    IdempotencyMismatch,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    ProviderAuthFailed,
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderStreamInterrupted,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    RequestInProgress,
    ServiceUnavailable,
    ThreadArchived,
    ThreadBusy,
    ThreadloomError,
    TransportError,
    Unauthenticated,
    ValidationFailed,
)
from .models import (
    ApiKey,
    ApiKeyCreated,
    ApiKeyIdentity,
    Assistant,
    ChatContext,
    LegacyThread,
    Message,
    MessageCreate,
    Page,
    Problem,
    Role,
    Space,
    State,
    StateVersion,
    Thread,
    ThreadWithMessage,
)

__all__ = [
    "AlreadyExists",
    "ApiKey",
    "ApiKeyCreated",
    "ApiKeyIdentity",
    "Assistant",
    "AsyncClient",
    "ChatContext",
    "ChatEvent",
    "Client",
    "Conflict",
    "Forbidden",
    "IdempotencyMismatch",
    "LegacyThread",
    "LiveEvent",
    "Message",
    "MessageCreate",
    "NotFound",
    "Page",
    "PayloadTooLarge",
    "PreconditionFailed",
    "Problem",
    "ProviderAuthFailed",
    "ProviderError",
    "ProviderRateLimited",
    "ProviderRejected",
    "ProviderStreamInterrupted",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RateLimited",
    "RequestInProgress",
    "Role",
    "ServiceUnavailable",
    "Space",
    "State",
    "StateVersion",
    "Thread",
    "ThreadArchived",
    "ThreadBusy",
    "ThreadWithMessage",
    "ThreadloomError",
    "TransportError",
    "Unauthenticated",
    "ValidationFailed",
    "__version__",
]
