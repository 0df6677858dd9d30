"""``BaseClient``: what ``Client`` and ``AsyncClient`` share. It is configured once, turns a
``Call`` into an ``httpx.Request``, turns an answer into a value or an exception, and decides
whether and when to try again. The two clients only send and wait.

Retries. A call is sent again, at most ``max_retries`` times, when

- the request never reached the server (connection refused, connect or pool timeout);
- the server answered 429 or 503: it did not carry the request out;
- the server answered 409 ``RequestInProgress``: an earlier attempt of this very create
  (same Idempotency-Key) is still running, and the retry will replay its answer;
- the connection failed or timed out after the request had gone out, if the call is
  repeatable: doing it twice has the effect of doing it once. Every call is, except
  ``keys.create`` and ``rolethreads.add_role``/``remove_role`` (a second attempt would
  answer ``Conflict`` or ``NotFound`` for the first one's change): GET, PUT and DELETE by
  HTTP; creates because each sends one Idempotency-Key on all its attempts; thread and
  space updates and state merge patches because they set values (see ``StateEndpoints``
  for what that means with ``if_match``).

It waits the server's ``Retry-After`` (in seconds, at most ``retry_after_cap``), or else an
exponential backoff with jitter: ``backoff_base`` doubling on every retry, at most
``backoff_cap``, of which a random 50 to 100 % is taken so that clients spread out. Every
other answer, and the last failure, raises: a ``ThreadloomError`` rebuilt from the problem
document, or ``TransportError`` with the ``httpx`` exception as its cause.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx

from .._version import __version__
from ..errors import RequestInProgress, ThreadloomError, TransportError, error_for_problem
from .calls import Call
from .streams import STREAM_READ_TIMEOUT, StreamCall

__all__ = ["API_KEY_ENV", "DEFAULT_URL", "URL_ENV", "BaseClient", "Retry", "error_from_response"]

T = TypeVar("T")
HttpT = TypeVar("HttpT", httpx.Client, httpx.AsyncClient)
TransportT = TypeVar("TransportT")
SleepT = TypeVar("SleepT")

URL_ENV = "THREADLOOM_URL"
API_KEY_ENV = "THREADLOOM_API_KEY"
DEFAULT_URL = "http://127.0.0.1:8000"
USER_AGENT = f"threadloom-python/{__version__}"

# Failures where the request cannot have reached the server, and where it may have.
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_MAYBE_SENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


@dataclass(frozen=True, slots=True)
class Retry:
    """The outcome of an attempt that is to be tried again after ``delay`` seconds."""

    delay: float


def error_from_response(response: httpx.Response) -> ThreadloomError:
    """The exception for an error answer: from its problem document, or (a proxy's page, an
    empty body) the class for its status with the text as detail. It carries the answer's
    headers (``Retry-After``, the current ``ETag`` of a ``PreconditionFailed``...)."""
    body: object = None
    if response.headers.get("content-type", "").split(";")[0].strip().endswith("json"):
        try:
            body = response.json()
        except ValueError:
            body = None
    if not isinstance(body, dict):
        body = {"detail": response.text.strip() or response.reason_phrase or None}
    error = error_for_problem(response.status_code, body)
    error.headers = dict(response.headers)
    return error


class BaseClient(Generic[HttpT, TransportT, SleepT]):
    """Configuration, requests, answers and the retry policy of both clients.

    ``base_url`` and ``api_key`` default to the environment variables ``THREADLOOM_URL`` and
    ``THREADLOOM_API_KEY``, read here (never at import); the URL falls back to
    ``http://127.0.0.1:8000``. The key is sent as ``Authorization: Bearer``. ``transport``
    is handed to httpx (tests pass ``httpx.ASGITransport(app=app)`` or a
    ``httpx.MockTransport``); ``sleep`` is what waits between retries.
    """

    backoff_base = 0.2
    backoff_cap = 5.0
    retry_after_cap = 30.0

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float | httpx.Timeout | None = 10.0,
        max_retries: int = 3,
        transport: TransportT | None = None,
        headers: Mapping[str, str] | None = None,
        sleep: SleepT | None = None,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        self.base_url = base_url or os.environ.get(URL_ENV) or DEFAULT_URL
        self.max_retries = max_retries
        api_key = api_key or os.environ.get(API_KEY_ENV)
        default_headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if api_key:
            default_headers["Authorization"] = f"Bearer {api_key}"
        self._sleep = sleep
        self._http: HttpT = self._open(
            transport,
            base_url=self.base_url,
            headers={**default_headers, **(headers or {})},
            timeout=timeout,
        )

    def _open(self, transport: TransportT | None, **options: Any) -> HttpT:
        """The httpx client that sends the requests."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def _request(self, call: Call[Any]) -> httpx.Request:
        headers = dict(call.headers)
        if call.content is not None:
            headers["Content-Type"] = call.content_type
        return self._http.build_request(
            call.method, call.path, params=call.params, content=call.content, headers=headers
        )

    def _stream_request(self, stream: StreamCall[Any]) -> httpx.Request:
        """A stream's request: it is not retried, and its reads may wait for a minute."""
        request = self._request(stream.call)
        timeout = httpx.Timeout(self._http.timeout.connect, read=STREAM_READ_TIMEOUT)
        request.extensions["timeout"] = timeout.as_dict()
        return request

    def _after_response(self, call: Call[T], attempt: int, response: httpx.Response) -> T | Retry:
        """The value of a successful answer, a retry, or (raised) the error it reports."""
        if response.is_success:
            return call.decode(response)
        error = error_from_response(response)
        retry = response.status_code in call.retry_statuses or isinstance(error, RequestInProgress)
        if retry and attempt < self.max_retries:
            return Retry(self._delay(attempt, response.headers.get("retry-after")))
        raise error

    def _after_failure(self, call: Call[Any], attempt: int, failure: httpx.TransportError) -> Retry:
        """A retry after a failed attempt, or (raised) ``TransportError``."""
        safe = isinstance(failure, _NEVER_SENT) or (
            call.repeatable and isinstance(failure, _MAYBE_SENT)
        )
        if safe and attempt < self.max_retries:
            return Retry(self._delay(attempt))
        tries = f"{attempt + 1} attempt{'s' if attempt else ''}"
        raise TransportError(
            f"{call.method} {call.path} failed ({tries}): {type(failure).__name__}: {failure}"
        ) from failure

    def _delay(self, attempt: int, retry_after: str | None = None) -> float:
        if retry_after is not None:
            try:
                seconds = float(retry_after)
            except ValueError:  # an HTTP date: fall back to the backoff
                pass
            else:
                if seconds >= 0:  # also false for NaN
                    return min(seconds, self.retry_after_cap)
        ceiling = min(self.backoff_cap, self.backoff_base * 2**attempt)
        return random.uniform(ceiling / 2, ceiling)
