"""Which optional extra of the package provides which module, and the guard that turns a
missing one into ``MissingExtra`` (``pip install 'threadloom[EXTRA]'``) instead of a
``ModuleNotFoundError`` from deep inside an import.

``pip install threadloom`` is the client alone; the command line, the server and the
RoleThread local mode need the ``server`` extra, PostgreSQL and Redis theirs. Importing this
module costs nothing: it imports none of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from .errors import MissingExtra

__all__ = [
    "COMMAND_LINE",
    "EXTRA_OF_MODULE",
    "as_missing_extra",
    "install_command",
    "requires_extra",
]

COMMAND_LINE = "the command line"

EXTRA_OF_MODULE: dict[str, str] = {
    # The server extra, and what its packages bring along (click with typer, starlette
    # with fastapi).
    **dict.fromkeys(
        (
            "alembic",
            "click",
            "fastapi",
            "prometheus_client",
            "pydantic_settings",
            "rich",
            "sqlalchemy",
            "sse_starlette",
            "starlette",
            "typer",
            "uvicorn",
        ),
        "server",
    ),
    "asyncpg": "postgres",
    "redis": "redis",
    "openai": "openai",
    "langchain_core": "langchain",
    "PIL": "images",
}


def install_command(extra: str) -> str:
    """The command that installs ``extra``, as ``MissingExtra`` spells it."""
    return f"pip install 'threadloom[{extra}]'"


def as_missing_extra(exc: ModuleNotFoundError, feature: str) -> MissingExtra | None:
    """``exc`` as the ``MissingExtra`` of ``feature``, when the missing module belongs to an
    extra; None when it does not (a bug, not an installation choice)."""
    if isinstance(exc, MissingExtra):
        return exc
    top = (exc.name or "").split(".", 1)[0]
    extra = EXTRA_OF_MODULE.get(top)
    return MissingExtra(feature, extra, top) if extra is not None else None


@contextmanager
def requires_extra(feature: str) -> Iterator[None]:
    """Run the imports of ``feature`` (``"the command line"``): a module of an extra that is
    missing raises ``MissingExtra`` naming the extra; any other import error is left as it
    is."""
    try:
        yield
    except ModuleNotFoundError as exc:
        missing = as_missing_extra(exc, feature)
        if missing is None or missing is exc:
            raise
        raise missing from None
