"""Options many commands take, and the parsers of their values.

Every command that reads or writes data takes the connection options (``--url``,
``--api-key``, ``--database-url``, shown in their own help panel) and ``--json``; commands on
a space's threads take ``--space``. They are declared once here as ``Annotated`` aliases.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from .base import usage_error

__all__ = [
    "AfterOption",
    "AllOption",
    "LimitOption",
    "ApiKeyOption",
    "DatabaseOption",
    "JsonOption",
    "LocalDatabaseOption",
    "SpaceOption",
    "UrlOption",
    "json_argument",
    "json_object",
    "key_values",
    "text_argument",
]

CONNECTION = "Connection"

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="THREADLOOM_URL",
        show_envvar=True,
        metavar="URL",
        help="A threadloom server, e.g. http://127.0.0.1:8000. Without it, the command "
        "works on the database directly.",
        rich_help_panel=CONNECTION,
    ),
]
ApiKeyOption = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar="THREADLOOM_API_KEY",
        show_envvar=True,
        metavar="KEY",
        help="The API key to send to --url (prefer the environment variable: arguments "
        "show in the process list).",
        rich_help_panel=CONNECTION,
    ),
]
DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="THREADLOOM_DATABASE_URL",
        show_envvar=True,
        metavar="URL",
        help="sqlite:///PATH or postgresql://USER@HOST/DB (default: a SQLite file in the "
        "user's data directory).",
    ),
]
LocalDatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="THREADLOOM_DATABASE_URL",
        show_envvar=True,
        metavar="URL",
        help="Without --url, the database to work on: sqlite:///PATH or "
        "postgresql://USER@HOST/DB (default: a SQLite file in the user's data directory).",
        rich_help_panel=CONNECTION,
    ),
]
JsonOption = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print JSON for scripts instead of tables (JSON lines for listings with --all).",
        rich_help_panel="Output",
    ),
]
LimitOption = Annotated[
    int,
    typer.Option(min=1, max=100, help="How many to show, 1 to 100 (with --all: per request)."),
]
AllOption = Annotated[
    bool, typer.Option("--all", help="Every page, not just the first (as JSON lines with --json).")
]
AfterOption = Annotated[
    str | None,
    typer.Option(
        metavar="CURSOR", help="Start after this cursor (the last_id of the page before)."
    ),
]
SpaceOption = Annotated[
    str,
    typer.Option(
        "--space",
        "-s",
        metavar="SPACE",
        envvar="THREADLOOM_SPACE",
        show_envvar=True,
        help="The space (tenant) the threads are in.",
    ),
]


def text_argument(value: str, name: str) -> str:
    """An argument's text, or all of stdin for ``-``."""
    if value == "-":
        text = sys.stdin.read()
        if not text.strip():
            raise usage_error("stdin is empty", name)
        return text
    return value


def json_argument(value: str, name: str) -> Any:
    """A JSON value given as an argument, or read from stdin for ``-``."""
    text = text_argument(value, name)
    try:
        return json.loads(text)
    except ValueError as exc:
        raise usage_error(f"not JSON: {exc}", name) from None


def json_object(value: str | None, name: str) -> dict[str, Any] | None:
    """A JSON object option (``--metadata '{"k": 1}'``), or None when not given."""
    if value is None:
        return None
    parsed = json_argument(value, name)
    if not isinstance(parsed, dict):
        raise usage_error('must be a JSON object, such as \'{"key": "value"}\'', name)
    return parsed


def key_values(pairs: list[str] | None, name: str) -> dict[str, str]:
    """``KEY=VALUE`` options, repeated (``--metadata customer=c-42``)."""
    result: dict[str, str] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise usage_error(f"{pair!r} is not KEY=VALUE", name)
        if key in result:
            raise usage_error(f"{key} is given twice", name)
        result[key] = value
    return result
