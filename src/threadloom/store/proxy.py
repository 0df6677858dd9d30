"""The base of the store wrappers (timing, group commit): what they do not override goes
to the store they wrap."""

from __future__ import annotations

from typing import Any

__all__ = ["StoreProxy"]


class StoreProxy:
    """Every attribute the subclass does not define is the wrapped store's own."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        if name == "_store":  # not set yet (while unpickling or copying): no recursion
            raise AttributeError(name)
        return getattr(self._store, name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._store!r})"
