"""What one API call is, and how a method that describes a call becomes a method that makes it.

Every endpoint is written once, as a method that returns a ``Call``: the request to send and
how to decode its answer. ``Endpoint`` (a descriptor) turns it into a method that sends the
call through whichever client it is reached from: on ``Client`` it returns the value, on
``AsyncClient`` an awaitable of it. ``Pages`` does the same for iterating over every item of
a list endpoint. So the sync and async APIs cannot drift apart, and both are fully typed.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Concatenate, Generic, Literal, ParamSpec, Self, TypeVar, overload
from urllib.parse import quote

import httpx
import orjson
from pydantic import BaseModel, TypeAdapter

from ..models import Page

__all__ = [
    "AsyncAPI",
    "Call",
    "Endpoint",
    "JSONMapping",
    "Order",
    "Pages",
    "SyncAPI",
    "decode",
    "encode",
    "given",
    "idempotency",
    "metadata_filter",
    "no_content",
    "path",
    "precondition",
    "query",
    "thread_path",
]

T = TypeVar("T")
P = ParamSpec("P")

JSONMapping = Mapping[str, Any]
Order = Literal["asc", "desc"]
RETRY_STATUSES = frozenset({429, 503})
MAX_PAGE_SIZE = 100
JSON = "application/json"


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One API call. It is built once per logical call and sent once per attempt, so
    everything in it (the Idempotency-Key above all) is the same on every retry.

    ``repeatable``: sending it twice has the effect of sending it once, so it may be retried
    even when an attempt failed after the request had gone out (see ``BaseClient``).
    ``retry_statuses``: answers that mean the server did not carry the request out.
    """

    method: str
    path: str
    decode: Callable[[httpx.Response], T]
    params: tuple[tuple[str, str], ...] = ()
    content: bytes | None = None
    content_type: str = JSON
    headers: Mapping[str, str] = field(default_factory=dict)
    repeatable: bool = True
    retry_statuses: frozenset[int] = RETRY_STATUSES

    def first_page(self) -> Self:
        """The call that starts an iteration: the largest pages unless ``limit`` was given."""
        names = {name for name, _ in self.params}
        if "before" in names:
            raise ValueError(
                "iterating walks forward from `after`; to read the page before a cursor, "
                "call list(before=...) instead"
            )
        if "limit" in names:
            return self
        return replace(self, params=(*self.params, ("limit", str(MAX_PAGE_SIZE))))

    def next_page(self, page: Page[Any]) -> Self | None:
        """The call for the page after ``page``, or None when it was the last."""
        if not page.has_more or page.last_id is None:
            return None
        params = tuple((name, value) for name, value in self.params if name != "after")
        return replace(self, params=(*params, ("after", page.last_id)))


# Building calls -----------------------------------------------------------------------------


def path(*segments: str) -> str:
    """``/seg/seg/...`` with each segment percent-encoded, so an id can never change the
    route it is sent to (``a/b``, ``?``, ``..``)."""
    quoted = (quote(segment, safe="") for segment in segments)
    return "/" + "/".join(s.replace(".", "%2E") if s in (".", "..") else s for s in quoted)


def thread_path(space: str, thread: str, *rest: str) -> str:
    """The path of a thread, or of something under it."""
    return path("v1", "spaces", space, "threads", thread, *rest)


def given(values: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a body that were given: those that are not None."""
    return {name: value for name, value in values.items() if value is not None}


def query(**values: object) -> tuple[tuple[str, str], ...]:
    """Query parameters, leaving out those that are None; booleans as ``true``/``false``."""
    return tuple((name, _text(value)) for name, value in values.items() if value is not None)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def metadata_filter(metadata: Mapping[str, object] | None) -> tuple[tuple[str, str], ...]:
    """``metadata[KEY]=VALUE`` parameters (the server compares the text form of values)."""
    return tuple((f"metadata[{key}]", _text(value)) for key, value in (metadata or {}).items())


def _json_default(value: object) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_unset=True)
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def encode(value: object) -> bytes:
    """JSON, with pydantic models (as the fields they were given) and any mapping."""
    return orjson.dumps(value, default=_json_default)


def idempotency(key: str | None) -> dict[str, str]:
    """The Idempotency-Key header of a create: the caller's, or a new one for this call."""
    return {"Idempotency-Key": key or uuid.uuid4().hex}


def precondition(version: int | None) -> dict[str, str]:
    """The If-Match header of a conditional write to the state at ``version``."""
    return {} if version is None else {"If-Match": f'"{version}"'}


# Decoding answers ---------------------------------------------------------------------------


_ADAPTERS: dict[object, TypeAdapter[Any]] = {}


def decode(type_: type[T]) -> Callable[[httpx.Response], T]:
    """Reads a JSON answer as ``type_`` (a model, ``Page[Thread]``, ``list[ApiKey]``...)."""
    adapter: TypeAdapter[T] | None = _ADAPTERS.get(type_)
    if adapter is None:
        adapter = _ADAPTERS[type_] = TypeAdapter(type_)
    return lambda response: adapter.validate_json(response.content)


def no_content(_response: httpx.Response) -> None:
    return None


# From descriptions to calls -----------------------------------------------------------------


class SyncAPI:
    """Marks what sends calls and waits for the answer: ``Client`` and its namespaces.
    They provide ``_send(call) -> value`` and ``_iterate(call) -> Iterator``."""


class AsyncAPI:
    """Marks what sends calls asynchronously: ``AsyncClient`` and its namespaces.
    They provide ``async _send(call) -> value`` and ``_iterate(call) -> AsyncIterator``."""


class _Descriptor:
    """Names the methods it makes after the attribute it is assigned to."""

    name = qualname = ""

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name, self.qualname = name, f"{owner.__qualname__}.{name}"

    def _named(self, method: Callable[..., Any]) -> Callable[..., Any]:
        method.__name__ = self.name
        method.__qualname__ = self.qualname
        method.__doc__ = self.__doc__
        return method


class Endpoint(_Descriptor, Generic[P, T]):
    """Decorates a method returning ``Call[T]``: the method, reached from a ``SyncAPI``,
    returns ``T``; reached from an ``AsyncAPI``, it returns an awaitable of ``T``."""

    def __init__(self, build: Callable[Concatenate[Any, P], Call[T]]) -> None:
        self.build = build
        self.__doc__ = build.__doc__

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, obj: SyncAPI, owner: type[Any]) -> Callable[P, T]: ...
    @overload
    def __get__(self, obj: AsyncAPI, owner: type[Any]) -> Callable[P, Coroutine[Any, Any, T]]: ...
    def __get__(self, obj: Any, owner: type[Any]) -> Any:
        if obj is None:
            return self
        build = self.build

        def send(*args: P.args, **kwargs: P.kwargs) -> Any:
            return obj._send(build(obj, *args, **kwargs))

        return self._named(send)


class Pages(_Descriptor, Generic[P, T]):
    """``iter = Pages(list)``: every item of a list endpoint, page after page, following the
    ``after`` cursors (100 items a request unless ``limit`` is given). It walks an index, so
    it neither skips nor repeats items while new ones are appended; it stops at the first
    page without more. An ``Iterator`` on ``Client``, an ``AsyncIterator`` on
    ``AsyncClient``."""

    def __init__(self, endpoint: Endpoint[P, Page[T]]) -> None:
        self.build = endpoint.build
        self.__doc__ = f"Every item, following cursors, of:\n\n{endpoint.__doc__}"

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, obj: SyncAPI, owner: type[Any]) -> Callable[P, Iterator[T]]: ...
    @overload
    def __get__(self, obj: AsyncAPI, owner: type[Any]) -> Callable[P, AsyncIterator[T]]: ...
    def __get__(self, obj: Any, owner: type[Any]) -> Any:
        if obj is None:
            return self
        build = self.build

        def iterate(*args: P.args, **kwargs: P.kwargs) -> Any:
            return obj._iterate(build(obj, *args, **kwargs).first_page())

        return self._named(iterate)
