"""The one exception tree of threadloom, shared by the server and the client.

Every class knows its HTTP status and its RFC 9457 problem type, so the server turns any of
them into ``application/problem+json`` in one place and the client turns a problem document
back into the matching class::

    ThreadloomError
    ├── ValidationFailed        400/422  the request is malformed or breaks a rule
    │   ├── PayloadTooLarge         413  the body (or a field of it) is over a limit
    │   └── IdempotencyMismatch     422  an Idempotency-Key reused with another body
    ├── Unauthenticated         401  no key, or an unknown or revoked one
    ├── Forbidden               403  the key may not do this
    ├── NotFound                404  no such resource, or not visible to this key
    ├── Conflict                409  the resource's state forbids this now
    │   ├── AlreadyExists           409  a client-chosen id is taken
    │   ├── ThreadArchived          409  writes to an archived thread
    │   ├── RequestInProgress       409  the same Idempotency-Key is still being handled
    │   └── ThreadBusy              409  a reply is already being generated on the thread
    ├── PreconditionFailed      412  If-Match did not match
    ├── RateLimited             429  slow down (Retry-After)
    ├── ServiceUnavailable      503  a dependency (database, upstream) is not reachable
    ├── ProviderError           502  the language model provider failed
    │   ├── ProviderRejected        502  it refused the request (4xx)
    │   │   └── ProviderAuthFailed      502  ... because of the API key (401/403)
    │   ├── ProviderRateLimited     502  it answered 429, after our retries
    │   ├── ProviderUnavailable     502  connection failed or 5xx, after retries
    │   │   └── ProviderStreamInterrupted  502  the reply broke off part way
    │   └── ProviderTimeout         504  it did not answer in time
    └── TransportError          ---  client side: the server could not be reached

Outside the tree, because it is about this installation rather than a request:
``MissingExtra``, a ``ModuleNotFoundError`` that names the extra to install
(``pip install 'threadloom[server]'``) when a feature's dependencies are not installed.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

__all__ = [
    "AlreadyExists",
    "Conflict",
    "Forbidden",
    "IdempotencyMismatch",
    "MissingExtra",
    "NotFound",
    "PayloadTooLarge",
    "PreconditionFailed",
    "ProviderAuthFailed",
    "ProviderError",
    "ProviderRateLimited",
    "ProviderRejected",
    "ProviderStreamInterrupted",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RateLimited",
    "RequestInProgress",
    "ServiceUnavailable",
    "ThreadArchived",
    "ThreadBusy",
    "ThreadloomError",
    "TransportError",
    "Unauthenticated",
    "ValidationFailed",
    "error_for_problem",
]

PROBLEM_BASE = "https://threadloom.dev/problems/"


class ThreadloomError(Exception):
    """Base of every error threadloom raises on purpose."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal server error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        status: int | None = None,
    ) -> None:
        self.detail = detail or self.title
        self.errors = errors
        self.headers = headers or {}
        if status is not None:
            self.status_code = status
        else:
            self.status_code = self.status
        super().__init__(self.detail)

    @classmethod
    def problem_type(cls) -> str:
        return PROBLEM_BASE + cls.slug

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        problem: dict[str, Any] = {
            "type": self.problem_type(),
            "title": self.title,
            "status": self.status_code,
            "detail": self.detail,
        }
        if instance is not None:
            problem["instance"] = instance
        if self.errors:
            problem["errors"] = self.errors
        return problem


class ValidationFailed(ThreadloomError):
    status = 422
    slug = "validation-error"
    title = "The request is not valid"


class PayloadTooLarge(ValidationFailed):
    status = 413
    slug = "payload-too-large"
    title = "The request is larger than allowed"


class IdempotencyMismatch(ValidationFailed):
    status = 422
    slug = "idempotency-key-reused"
    title = "The Idempotency-Key was used for another request"


class Unauthenticated(ThreadloomError):
    status = 401
    slug = "unauthenticated"
    title = "A valid API key is required"


class Forbidden(ThreadloomError):
    status = 403
    slug = "forbidden"
    title = "This API key may not do that"


class NotFound(ThreadloomError):
    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(ThreadloomError):
    status = 409
    slug = "conflict"
    title = "The request conflicts with the current state"


class AlreadyExists(Conflict):
    slug = "already-exists"
    title = "A resource with this id already exists"


class ThreadArchived(Conflict):
    slug = "thread-archived"
    title = "The thread is archived"


class RequestInProgress(Conflict):
    slug = "request-in-progress"
    title = "A request with this Idempotency-Key is still being handled"


class ThreadBusy(Conflict):
    slug = "thread-busy"
    title = "A reply is already being generated on this thread"


class PreconditionFailed(ThreadloomError):
    status = 412
    slug = "precondition-failed"
    title = "The resource has changed"


class RateLimited(ThreadloomError):
    status = 429
    slug = "rate-limited"
    title = "Too many requests"


class ServiceUnavailable(ThreadloomError):
    status = 503
    slug = "service-unavailable"
    title = "A service threadloom depends on is unavailable"


class ProviderError(ThreadloomError):
    """The language model provider failed; ``detail`` says how, in the upstream's words."""

    status = 502
    slug = "provider-error"
    title = "The language model provider failed"

    def __init__(
        self,
        detail: str | None = None,
        *,
        provider: str | None = None,
        what: str | None = None,
        upstream_status: int | None = None,
        upstream_message: str | None = None,
        retry_after: float | None = None,
        errors: list[dict[str, Any]] | None = None,
        status: int | None = None,
    ) -> None:
        """Give ``detail``, or the parts it is written from: ``provider`` and ``what`` failed.

        ``errors`` and ``status`` are those of :class:`ThreadloomError`, so that
        ``error_for_problem`` can rebuild these classes from a problem document.
        """
        self.provider = provider
        self.upstream_status = upstream_status
        self.upstream_message = upstream_message
        self.retry_after = retry_after
        if detail is None:
            detail = what or self.title[0].lower() + self.title[1:]
            if provider is not None:
                detail = f"{provider}: {detail}"
            if upstream_status is not None:
                detail += f" (HTTP {upstream_status})"
            if upstream_message:
                detail += f": {upstream_message}"
        headers = None
        if retry_after is not None and retry_after > 0:
            headers = {"Retry-After": str(math.ceil(retry_after))}
        super().__init__(detail, errors=errors, headers=headers, status=status)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.detail!r})"


class ProviderRejected(ProviderError):
    slug = "provider-rejected-request"
    title = "The language model provider rejected the request"


class ProviderAuthFailed(ProviderRejected):
    slug = "provider-auth-failed"
    title = "The language model provider refused the configured API key"


class ProviderRateLimited(ProviderError):
    slug = "provider-rate-limited"
    title = "The language model provider is rate limiting requests"


class ProviderUnavailable(ProviderError):
    slug = "provider-unavailable"
    title = "The language model provider is unavailable"


class ProviderStreamInterrupted(ProviderUnavailable):
    slug = "provider-stream-interrupted"
    title = "The language model provider's reply broke off"


class ProviderTimeout(ProviderError):
    status = 504
    slug = "provider-timeout"
    title = "The language model provider did not answer in time"


class TransportError(ThreadloomError):
    """Raised by the client when the server cannot be reached at all."""

    status = 0
    slug = "transport-error"
    title = "The server could not be reached"


class MissingExtra(ModuleNotFoundError):
    """A feature needs an optional extra of the package that is not installed: its message
    says which and how to install it (``name`` is the missing module)."""

    def __init__(self, feature: str, extra: str, module: str) -> None:
        super().__init__(
            f"{feature} needs the {extra} extra ({module} is not installed): "
            f"pip install 'threadloom[{extra}]'",
            name=module,
        )
        self.feature = feature
        self.extra = extra


_BY_TYPE: dict[str, type[ThreadloomError]] = {}
_BY_STATUS: dict[int, type[ThreadloomError]] = {}


def _index(cls: type[ThreadloomError]) -> None:
    _BY_TYPE[cls.problem_type()] = cls
    _BY_STATUS.setdefault(cls.status, cls)
    for sub in cls.__subclasses__():
        _index(sub)


_index(ThreadloomError)
_BY_STATUS[400] = ValidationFailed
# A 502 or 504 without our problem type comes from a gateway in between, not from a
# language model provider: it stays a plain ThreadloomError.
_BY_STATUS.pop(502, None)
_BY_STATUS.pop(504, None)


def error_for_problem(status: int, problem: dict[str, Any]) -> ThreadloomError:
    """Rebuild the matching exception from a problem document (used by the client)."""
    cls = _BY_TYPE.get(str(problem.get("type", ""))) or _BY_STATUS.get(status, ThreadloomError)
    detail = problem.get("detail")
    errors = problem.get("errors")
    return cls(
        str(detail) if detail is not None else None,
        errors=errors if isinstance(errors, list) else None,
        status=status,
    )
