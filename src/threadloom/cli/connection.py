"""The connection options every data command takes, declared once.

``@connected`` gives a command the ``--url``, ``--api-key`` and ``--database-url`` options
(in their own help panel) in place of its ``connection: Connection`` parameter; the command
opens it where it needs the data::

    @app.command("get")
    @connected
    def state_get(thread: ThreadArgument, connection: Connection) -> None:
        with connection.open() as access:
            ...

so its own arguments are checked before anything is opened.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar, get_type_hints

from ..access import Access, connect
from .options import ApiKeyOption, LocalDatabaseOption, UrlOption

__all__ = ["LOCAL", "Connection", "connected"]

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Connection:
    """Where a command's data is: the server at ``url``, else the database."""

    url: str | None = None
    api_key: str | None = None
    database_url: str | None = None

    @contextmanager
    def open(self) -> Iterator[Access]:
        with connect(self.url, self.api_key, self.database_url) as access:
            yield access


LOCAL = Connection()
"""The configured database: the default of a ``connection`` parameter (``@connected`` always
passes the options given)."""

_OPTIONS = {"url": UrlOption, "api_key": ApiKeyOption, "database_url": LocalDatabaseOption}


def connected(command: Callable[..., T]) -> Callable[..., T]:
    """``command`` with the connection options in place of its ``connection`` parameter."""
    hints = get_type_hints(command, include_extras=True)
    signature = inspect.signature(command)
    kept = [
        parameter.replace(annotation=hints.get(name, parameter.annotation))
        for name, parameter in signature.parameters.items()
        if name != "connection"
    ]
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=option)
        for name, option in _OPTIONS.items()
    ]

    @functools.wraps(command)
    def with_connection(*args: Any, **kwargs: Any) -> T:
        values = {name: kwargs.pop(name, None) for name in _OPTIONS}
        return command(*args, connection=Connection(**values), **kwargs)

    options = signature.replace(parameters=[*kept, *added])
    with_connection.__signature__ = options  # type: ignore[attr-defined]
    with_connection.__annotations__ = {
        **{name: value for name, value in hints.items() if name != "connection"},
        **_OPTIONS,
    }
    del with_connection.__wrapped__  # typer would read the wrapped function's options
    return with_connection
