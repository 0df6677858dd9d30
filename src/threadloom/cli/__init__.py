"""The ``threadloom`` command: serve, migrate, and work with keys, spaces, threads, messages
and state, on a server (``--url``) or directly on the database.

One module per command or group of commands, each with its own ``typer.Typer`` that is added
here (a group by its name; a module of top-level commands without one). A new command is one
new module and one line below. ``base`` holds the consoles, error reporting and output;
``options`` the shared options; ``backend`` the two ways of reaching the data.
"""

from __future__ import annotations

import typer

from . import chat, keys, messages, migrate, serve, spaces, state, threads, transfer
from .base import Group

__all__ = ["app", "main"]

app = typer.Typer(
    cls=Group,
    name="threadloom",
    help="Conversation memory for LLM applications: serve it, migrate it, manage its keys, "
    "and read and write its threads, messages and state.\n\n"
    "Data commands work on a server when given --url (or THREADLOOM_URL, with "
    "THREADLOOM_API_KEY), and otherwise on the database directly (--database-url or "
    "THREADLOOM_DATABASE_URL).",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
)
app.add_typer(serve.app)
app.add_typer(migrate.app)
app.add_typer(spaces.app, name="spaces")
app.add_typer(threads.app, name="threads")
app.add_typer(messages.app, name="messages")
app.add_typer(state.app, name="state")
app.add_typer(transfer.app)
app.add_typer(chat.app)
app.add_typer(keys.app, name="keys")


def main() -> None:
    app()
