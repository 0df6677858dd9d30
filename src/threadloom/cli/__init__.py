"""The ``threadloom`` command: serve, migrate, and work with keys, spaces, threads, messages
and state, on a server (``--url``) or directly on the database.

One module per command or group of commands, each with its own ``typer.Typer``, added to the
root app in ``root``. ``base`` holds the consoles, error reporting and output; ``options``
the shared options; ``backend`` the two ways of reaching the data.

This package's own module imports nothing of the ``server`` extra, so that ``main`` (the
``threadloom`` entry point) can say which extra to install on a client-only install
(``pip install threadloom``) instead of failing on ``import typer``.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from ..errors import MissingExtra
from ..extras import COMMAND_LINE, requires_extra

if TYPE_CHECKING:
    import typer

__all__ = ["app", "main"]


def _root() -> typer.Typer:
    with requires_extra(COMMAND_LINE):
        from .root import app as root

    return root


def main() -> None:
    """The ``threadloom`` entry point."""
    try:
        root = _root()
    except MissingExtra as exc:
        sys.stderr.write(f"error: {exc}\n")  # as the command's own errors read
        raise SystemExit(1) from None
    root()


def __getattr__(name: str) -> Any:
    """``threadloom.cli.app``, the root app, imported on first use."""
    if name == "app":
        return _root()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
