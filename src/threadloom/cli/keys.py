"""``threadloom keys``: create, list and revoke API keys."""

from __future__ import annotations

import sys
from typing import Annotated, Literal

import typer

from .base import (
    Field,
    commands,
    err,
    examples,
    fail,
    out,
    print_json,
    print_table,
    usage_error,
    when,
)
from .connection import LOCAL, Connection, connected
from .options import JsonOption

__all__ = ["app"]

app = commands(
    "Create, list and revoke API keys (on the database, or on a server with an admin key)."
)

KEY_FIELDS = (
    Field("id", "id"),
    Field("prefix", lambda key: key.prefix + "…"),
    Field("role", "role"),
    Field("space", lambda key: key.space_id or "*"),
    Field("name", "name", flexible=True),
    Field("created", when("created_at")),
    Field("revoked", when("revoked_at")),
)


@app.command(
    "create",
    epilog=examples(
        "threadloom keys create --admin",
        "threadloom keys create --space default --role reader --name dashboard",
        "KEY=$(threadloom keys create --admin | tail -n1)",
    ),
)
@connected
def keys_create(
    space: Annotated[
        str | None, typer.Option(metavar="SPACE", help="The space the key is bound to.")
    ] = None,
    role: Annotated[
        str, typer.Option(help="writer or reader (for a key bound to --space).")
    ] = "writer",
    admin: Annotated[bool, typer.Option("--admin", help="A key for every space.")] = False,
    name: Annotated[
        str | None, typer.Option(metavar="TEXT", help="A label to recognise the key by.")
    ] = None,
    connection: Connection = LOCAL,
    as_json: JsonOption = False,
) -> None:
    """Create a key. The secret is printed once, alone on the last line of stdout."""
    if admin and space is not None:
        raise fail("an admin key is not bound to a space; omit --space")
    if role not in ("writer", "reader"):
        raise usage_error("writer or reader (use --admin for an admin key)", "--role")
    key_role: Literal["admin", "writer", "reader"] = "admin" if admin else role  # type: ignore[assignment]
    with connection.open() as access:
        created = access.create_key(key_role, None if admin else space, name)
    if as_json:
        print_json(created)
        return
    where = "every space" if admin else f"space {created.space_id}"
    err.print(f"created {created.role} key {created.id} for {where}; it is shown only once:")
    sys.stdout.write(created.key + "\n")


@app.command(
    "list", epilog=examples("threadloom keys list", "threadloom keys list --json | jq -r '.[].id'")
)
@connected
def keys_list(
    connection: Connection = LOCAL,
    as_json: JsonOption = False,
) -> None:
    """List keys, revoked ones too (never their secrets)."""
    with connection.open() as access:
        keys = access.list_keys()
    if as_json:
        print_json([key.model_dump(mode="json") for key in keys])
        return
    print_table(KEY_FIELDS, keys)


@app.command("revoke", epilog=examples("threadloom keys revoke key_01jexample"))
@connected
def keys_revoke(
    key_id: Annotated[str, typer.Argument(metavar="KEY_ID", help="The id `keys list` shows.")],
    connection: Connection = LOCAL,
) -> None:
    """Revoke a key; servers stop accepting it within THREADLOOM_KEY_CACHE_SECONDS."""
    with connection.open() as access:
        access.revoke_key(key_id)
    out.print(f"revoked {key_id}")
