"""Synchronous, in-process access to a threadloom database (the local mode of
``threadloom.threadmem``).

``store_for(url)`` gives the one ``LocalStore`` of a database URL in this process, created on
first use: it migrates the database once, opens the store the server uses and builds the same
services, so whatever is written here is what the server serves, and the other way round.
``LocalStore.run(coroutine)`` runs one service call and returns its result:

- on SQLite the store runs every statement inline, so a service coroutine never suspends: it
  is driven to its end right here, without an event loop (a loop's round trip would cost more
  than the statement);
- on PostgreSQL the store's pool lives on a private event loop in a daemon thread, and calls
  are handed to it.

Importing this module pulls in the server's storage layer (SQLAlchemy and Alembic for the
migrations, asyncpg for PostgreSQL), which is why ``threadloom.threadmem`` imports it only
when local mode is first used. ``close_all()`` closes every store (tests use it to start each
test afresh); a store closed that way is simply created again on its next use.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

from .config import Settings
from .core.auth import OPEN_PRINCIPAL, Principal
from .core.services import Services
from .store import create_store
from .store.migrate import migrate
from .store.urls import backend_of

__all__ = ["OPEN_PRINCIPAL", "LocalStore", "close_all", "default_url", "in_thread", "store_for"]

T = TypeVar("T")

_stores: dict[str, LocalStore] = {}
_stores_lock = threading.Lock()
_atexit_registered = False


def default_url() -> str:
    """The database the server uses: ``THREADLOOM_DATABASE_URL`` (or ``.env``), else the
    default SQLite file. Read now, never at import."""
    return Settings().database_url


def store_for(url: str | None = None) -> LocalStore:
    """The open store of ``url`` (default: ``default_url()``), created on first use."""
    if url is None:
        url = default_url()
    store = _stores.get(url)
    if store is not None:
        return store
    global _atexit_registered
    with _stores_lock:
        store = _stores.get(url)
        if store is None:
            store = LocalStore(url)
            _stores[url] = store
            if not _atexit_registered:
                atexit.register(close_all)
                _atexit_registered = True
        return store


def close_all() -> None:
    """Close every store of this process; the next use of a URL opens it again."""
    with _stores_lock:
        stores = list(_stores.values())
        _stores.clear()
    for store in stores:
        store.close()


def _drive(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends to its end, without an event loop."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    coroutine.close()
    raise RuntimeError(
        "a SQLite store call suspended, which it never should: it cannot be run without an "
        "event loop (this is a bug in threadloom)"
    )


class _LoopThread:
    """A private event loop running in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="threadloom-local", daemon=True
        )
        self.thread.start()

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if threading.current_thread() is self.thread:
            coroutine.close()
            raise RuntimeError("a local store call cannot be made from its own event loop")
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        if not self.thread.is_alive():
            self.loop.close()


class LocalStore:
    """One database, opened in this process: ``services`` over its store, and ``run`` to
    call them synchronously. Thread-safe (the SQLite store serializes callers with a lock;
    the PostgreSQL pool serves them concurrently). ``principal`` is the open (admin) one:
    local access is as trusted as the database URL itself."""

    principal: Principal = OPEN_PRINCIPAL

    def __init__(self, url: str) -> None:
        self.url = url
        settings = Settings(database_url=url)
        self.backend = backend_of(url)
        self._loop: _LoopThread | None = None
        self._closed = False
        if self.backend == "sqlite":
            migrate(url)
        else:
            # Alembic runs asyncpg through asyncio.run, which refuses to start inside a
            # running event loop: migrate on a thread of its own, whatever the caller is in.
            in_thread(migrate, url)
            self._loop = _LoopThread()
        store = create_store(settings)
        self.services = Services.build(store, settings)
        try:
            self.run(store.open())
        except BaseException:
            if self._loop is not None:
                self._loop.stop()
            raise

    def __repr__(self) -> str:
        return f"LocalStore(backend={self.backend!r})"

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The private loop calls run on (PostgreSQL, Redis); None where they run inline."""
        return None if self._loop is None else self._loop.loop

    @property
    def closed(self) -> bool:
        """Closed by ``close()`` (or ``close_all()``): ``store_for`` gives a new store."""
        return self._closed

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """The result of one service (or store) coroutine, run to its end."""
        if self._loop is None:
            return _drive(coroutine)
        return self._loop.submit(coroutine)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.run(self.services.store.close())
        finally:
            if self._loop is not None:
                self._loop.stop()


def in_thread(function: Callable[..., object], *args: Any) -> None:
    """Call ``function(*args)`` on a thread of its own and wait; raises what it raised."""
    failure: list[BaseException] = []

    def target() -> None:
        try:
            function(*args)
        except BaseException as exc:  # handed over to the caller's thread
            failure.append(exc)

    worker = threading.Thread(target=target, name="threadloom-migrate")
    worker.start()
    worker.join()
    if failure:
        raise failure[0]
