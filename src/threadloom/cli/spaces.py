"""``threadloom spaces``: list, create and delete spaces (tenants)."""

from __future__ import annotations

from typing import Annotated

import typer

from ..models import PageQuery, SpaceCreate
from .base import Field, commands, examples, out, print_json, print_list, when
from .connection import LOCAL, Connection, connected
from .options import (
    AfterOption,
    AllOption,
    JsonOption,
    LimitOption,
    json_object,
)

__all__ = ["app"]

app = commands(
    "List, create and delete spaces: the tenants threads live in (`default` always "
    "exists). Creating and deleting them takes an admin key on a server."
)

SPACE_FIELDS = (
    Field("id", "id"),
    Field("name", "name", flexible=True),
    Field("metadata", "metadata", flexible=True),
    Field("created", when("created_at")),
)


@app.command("ls", epilog=examples("threadloom spaces ls", "threadloom spaces ls --all --json"))
@connected
def spaces_ls(
    limit: LimitOption = 20,
    every: AllOption = False,
    after: AfterOption = None,
    connection: Connection = LOCAL,
    as_json: JsonOption = False,
) -> None:
    """List the spaces (a space-bound key sees its own only), by id."""
    with connection.open() as access:
        print_list(
            lambda cursor: access.list_spaces(PageQuery(limit=limit, after=cursor)),
            SPACE_FIELDS,
            as_json=as_json,
            every=every,
            after=after,
        )


@app.command(
    "create",
    epilog=examples(
        "threadloom spaces create acme --name 'ACME Corp.'",
        'threadloom spaces create --metadata \'{"plan": "pro"}\' --json',
    ),
)
@connected
def spaces_create(
    space_id: Annotated[
        str | None, typer.Argument(metavar="[ID]", help="Its id (default: a new one).")
    ] = None,
    name: Annotated[
        str | None, typer.Option(metavar="TEXT", help="Its name (default: the id).")
    ] = None,
    metadata: Annotated[
        str | None, typer.Option(metavar="JSON", help="A JSON object of metadata.")
    ] = None,
    connection: Connection = LOCAL,
    as_json: JsonOption = False,
) -> None:
    """Create a space."""
    body = SpaceCreate(id=space_id, name=name, metadata=json_object(metadata, "--metadata") or {})
    with connection.open() as access:
        space = access.create_space(body)
    if as_json:
        print_json(space)
    else:
        out.print(f"created space {space.id}", highlight=False)


@app.command(
    "rm", epilog=examples("threadloom spaces rm acme", "threadloom spaces rm acme --force")
)
@connected
def spaces_rm(
    space_id: Annotated[str, typer.Argument(metavar="ID", help="The space's id.")],
    force: Annotated[
        bool,
        typer.Option("--force", help="Also delete all its threads and messages, for good."),
    ] = False,
    connection: Connection = LOCAL,
) -> None:
    """Delete an empty space (with --force, one with threads too). `default` stays."""
    with connection.open() as access:
        access.delete_space(space_id, force=force)
    out.print(f"deleted space {space_id}", highlight=False)
