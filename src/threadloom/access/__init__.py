"""One way to reach threadloom's data, wherever it lives: ``Access`` and ``AsyncAccess``.

The command line, ``threadloom.threadmem`` and the framework integrations are written once
against them; ``connect`` picks the implementation:

    from threadloom.access import connect

    with connect(url="http://127.0.0.1:8000", api_key=KEY) as access:  # a server
        access.get_thread("default", "support-42")
    with connect(database_url="sqlite:///chat.db") as access:          # the database itself
        access.get_thread("default", "support-42")

Both answer with the wire models of ``threadloom.models`` and raise ``threadloom.errors``.
The local implementations (``threadloom.access.local``) import the server's storage layer
(the ``server`` extra), so this package imports them only when a database is used; a caller
that may lack the extra wraps the call in ``threadloom.extras.requires_extra``.
"""

from __future__ import annotations

from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING

from .base import Access, AsyncAccess, KeyRole, apages, pages
from .remote import AsyncRemoteAccess, RemoteAccess

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

__all__ = [
    "Access",
    "AsyncAccess",
    "AsyncRemoteAccess",
    "KeyRole",
    "RemoteAccess",
    "aconnect",
    "apages",
    "connect",
    "open_access",
    "pages",
]


def open_access(
    url: str | None = None, api_key: str | None = None, database_url: str | None = None
) -> Access:
    """The server at ``url`` if given, else a store of its own on the database at
    ``database_url`` (default: the configured one). The caller closes it."""
    if url:
        return RemoteAccess.open(url, api_key)
    from .local import LocalAccess  # the server extra's storage layer: the caller names it

    return LocalAccess.open(database_url)


@contextmanager
def connect(
    url: str | None = None, api_key: str | None = None, database_url: str | None = None
) -> Iterator[Access]:
    """``open_access``, closed at the end of the block."""
    access = open_access(url, api_key, database_url)
    try:
        yield access
    finally:
        access.close()


@asynccontextmanager
async def aconnect(
    url: str | None = None, api_key: str | None = None, database_url: str | None = None
) -> AsyncIterator[AsyncAccess]:
    """``connect`` for asyncio: an ``AsyncClient``, or the database opened in this loop."""
    access: AsyncAccess
    if url:
        access = AsyncRemoteAccess.open(url, api_key)
    else:
        from .local import AsyncLocalAccess

        access = await AsyncLocalAccess.open(database_url)
    try:
        yield access
    finally:
        await access.aclose()
