"""The root ``typer`` app of the ``threadloom`` command: every command module added to it
(a group by its name; a module of top-level commands without one). A new command is one new
module and one line below. Importing it needs the ``server`` extra (``threadloom.cli.main``
says so when it is missing).
"""

from __future__ import annotations

import typer

from . import chat, keys, messages, migrate, serve, spaces, state, threads, transfer
from .base import Group

__all__ = ["app"]

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
