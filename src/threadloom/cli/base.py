"""What every command shares: the consoles, one-line errors, and how results are printed.

Errors. ``Group.main`` is the one place a failure is reported: one red line on stderr, exit
status 2 for a usage error (a bad option, a malformed JSON argument) and 1 for anything else
(a ``ThreadloomError`` from the services or the server, an unreachable server, an unusable
database). Commands raise; they never print errors themselves. Set ``THREADLOOM_DEBUG=1`` to
get the traceback of an unexpected exception instead.

Output. People get rich tables on stdout; with ``--json``, scripts get one JSON document, or
JSON lines for ``--all`` listings, written as each item arrives. Messages about what was done
go to stderr, so stdout stays clean for pipes.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from typer.core import TyperGroup

from ..access import pages
from ..errors import ThreadloomError
from ..extras import COMMAND_LINE, as_missing_extra
from ..models import Page

try:  # newer typers vendor click: its exceptions are the ones typer raises
    from typer._click import exceptions as click
except ImportError:  # pragma: no cover
    from click import exceptions as click  # type: ignore[no-redef]

__all__ = [
    "Field",
    "Group",
    "commands",
    "describe_error",
    "err",
    "examples",
    "fail",
    "out",
    "print_json",
    "print_json_line",
    "print_list",
    "print_record",
    "print_table",
    "report_line",
    "usage_error",
    "when",
]

out = Console()
err = Console(stderr=True, soft_wrap=True)
# Driver and migration errors (a file that is no database, a refused login...).
_DATABASE_MODULES = frozenset({"sqlite3", "sqlalchemy", "alembic", "asyncpg", "redis"})
# A bare command group (click 8.2 and later; earlier versions print the help and exit 0).
_NO_ARGS_IS_HELP: Any = getattr(click, "NoArgsIsHelpError", ())


def fail(message: str) -> click.ClickException:
    """The error to raise for a failure the user can act on (exit status 1)."""
    return click.ClickException(message)


def usage_error(message: str, option: str | None = None) -> click.UsageError:
    """The error to raise for a malformed option or argument (exit status 2)."""
    if option is None:
        return click.UsageError(message)
    return click.BadParameter(message, param_hint=f"'{option}'")


def commands(help: str | None = None) -> typer.Typer:
    """The ``typer.Typer`` of a module: a named group of commands when given ``help``
    (``threads``), else commands that the root takes in as its own (``export``). Help text
    is Markdown, so docstrings wrap like prose."""
    return typer.Typer(help=help, rich_markup_mode="markdown", no_args_is_help=True)


def examples(*commands: str) -> str:
    """The epilog of a command's help: example command lines, as a Markdown code block."""
    return "**Examples**\n\n```\n" + "\n".join(commands) + "\n```"


def report_line(message: str) -> None:
    """One line on stderr, never wrapped and never read as markup."""
    err.print("[bold red]error:[/] ", end="", highlight=False)
    err.print(" ".join(message.split()), markup=False, highlight=False)


def describe_error(exc: Exception) -> tuple[str, int] | None:
    """The line and exit status for an exception, or None for a bug."""
    if isinstance(exc, ThreadloomError):
        return exc.detail, 1
    if isinstance(exc, ModuleNotFoundError):
        missing = as_missing_extra(exc, COMMAND_LINE)
        if missing is not None:
            return str(missing), 1
    if isinstance(exc, ValidationError):
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        return (f"{where}: {problem['msg']}" if where else problem["msg"]), 2
    if isinstance(exc, OSError):
        return str(exc), 1
    if type(exc).__module__.split(".")[0] in _DATABASE_MODULES:
        reason = getattr(exc, "orig", None) or exc
        return f"the database cannot be used: {reason}", 1
    return None


class Group(TyperGroup):
    """The root command group: it runs the command and turns every failure into one line."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            result = super().main(args, prog_name, complete_var, False, **extra)
        except _NO_ARGS_IS_HELP as exc:
            sys.exit(exc.exit_code)  # the help is printed already
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            _exit(exc.format_message() + hint, exc.exit_code)
        except click.ClickException as exc:
            _exit(exc.format_message(), exc.exit_code)
        except typer.Abort:
            _exit("aborted", 1)
        except Exception as exc:
            described = describe_error(exc)
            if described is None:
                if os.environ.get("THREADLOOM_DEBUG"):
                    raise
                described = (f"unexpected {type(exc).__name__}: {exc}", 1)
            _exit(*described)
        sys.exit(result if isinstance(result, int) else 0)


def _exit(message: str, code: int) -> NoReturn:
    report_line(message)
    sys.exit(code)


# Output -----------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value


def print_json(value: Any) -> None:
    """One JSON document on stdout."""
    sys.stdout.write(json.dumps(_jsonable(value), indent=2, ensure_ascii=False) + "\n")


def print_json_line(value: Any) -> None:
    """One JSON line on stdout, flushed at once (for ``--all`` and streams)."""
    sys.stdout.write(json.dumps(_jsonable(value), ensure_ascii=False) + "\n")
    sys.stdout.flush()


@dataclass(frozen=True, slots=True)
class Field:
    """A column of a table: its heading and the attribute (or function) it shows. Columns
    are shown whole (ids are what other commands take), except ``flexible`` ones (titles,
    contents), which are cut to one line and give way when the terminal is narrow."""

    heading: str
    attribute: str | Callable[[Any], Any]
    flexible: bool = False

    def text(self, item: Any) -> str:
        if callable(self.attribute):
            value = self.attribute(item)
        else:
            value = getattr(item, self.attribute)
        if value is None:
            return ""
        if isinstance(value, bool):
            return "yes" if value else ""
        if isinstance(value, dict | list):
            text = json.dumps(value, ensure_ascii=False) if value else ""
        else:
            text = str(value)
        if self.flexible:
            text = " ".join(text.split())
            if len(text) > FLEXIBLE_CHARS:
                text = text[: FLEXIBLE_CHARS - 1] + "…"
        return text


FLEXIBLE_CHARS = 60


def when(attribute: str) -> Callable[[Any], str | None]:
    """A timestamp to the second, for tables (``--json`` has it whole)."""

    def text(item: Any) -> str | None:
        value: str | None = getattr(item, attribute)
        return value[:19] if value else None

    return text


def print_table(fields: Sequence[Field], items: Iterable[Any]) -> None:
    """A table of ``items`` on stdout (every item is read before the table is drawn)."""
    rows = [[field.text(item) for field in fields] for item in items]
    table = Table()
    for index, field in enumerate(fields):
        if field.flexible:
            table.add_column(field.heading, no_wrap=True, overflow="ellipsis", min_width=8)
        else:
            # Whole even when piped, where rich squeezes tables to 80 columns.
            longest = max((len(row[index]) for row in rows), default=0)
            table.add_column(
                field.heading, no_wrap=True, min_width=max(longest, len(field.heading))
            )
    for row in rows:
        table.add_row(*row)
    _print_wide(table)


def _print_wide(renderable: Any) -> None:
    """Print at the terminal's width; in a pipe or a file, as wide as the content (rich
    would squeeze it to 80 columns and cut what does not fit)."""
    if out.is_terminal:
        out.print(renderable)
        return
    natural = Measurement.get(out, out.options.update_width(100_000), renderable).maximum
    Console(width=max(natural, 20)).print(renderable)


def print_record(fields: Sequence[Field], item: Any) -> None:
    """One item as a two-column table of its fields."""
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for field in fields:
        table.add_row(field.heading, field.text(item))
    _print_wide(table)


def print_list(
    fetch: Callable[[str | None], Page[Any]],
    fields: Sequence[Field],
    *,
    as_json: bool,
    every: bool,
    after: str | None,
) -> None:
    """A listing: one page (``fetch(after)``), or with ``every`` all pages from there on.
    As JSON, a page is one document (with its cursors) and ``every`` gives JSON lines, each
    written as soon as its page arrives."""
    if every:
        if as_json:
            for item in pages(fetch, after):
                print_json_line(item)
        else:
            print_table(fields, pages(fetch, after))
        return
    page = fetch(after)
    if as_json:
        print_json(page)
        return
    print_table(fields, page.data)
    if page.has_more:
        err.print(f"more after this page: add --all, or --after {page.last_id}", highlight=False)
