"""The last chat session used with each server (or database) and space, kept across runs.

One small JSON file, ``sessions.json`` in ``$THREADLOOM_STATE_DIR``, else the XDG state
directory (``$XDG_STATE_HOME/threadloom``, by default ``~/.local/state/threadloom``). It is
a convenience: when it cannot be read the chat starts a new session, and when it cannot be
written the chat says so and goes on.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from .base import err

__all__ = ["recall", "remember", "state_file"]

_PASSWORD = re.compile(r"//([^/:@]*):[^/@]*@")


def state_file() -> Path:
    """Where the last sessions are kept (read from the environment at each call)."""
    folder = os.environ.get("THREADLOOM_STATE_DIR")
    if not folder:
        base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
        folder = str(Path(base) / "threadloom")
    return Path(folder) / "sessions.json"


def _key(where: str, space: str) -> str:
    """The space and the server or database; a password in the URL is not written down."""
    return space + " " + _PASSWORD.sub(r"//\1@", where)


def _read() -> dict[str, str]:
    try:
        data = json.loads(state_file().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def recall(where: str, space: str) -> str | None:
    """The last session used with ``where`` (a server or database URL) and ``space``."""
    session = _read().get(_key(where, space))
    return session if isinstance(session, str) and session else None


def remember(where: str, space: str, session: str) -> None:
    path = state_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_text(json.dumps({**_read(), _key(where, space): session}, indent=2) + "\n")
        partial.replace(path)  # whole or not at all
    except OSError as exc:
        err.print(f"the session cannot be remembered: {exc}", style="yellow", markup=False)
