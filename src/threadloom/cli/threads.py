"""``threadloom threads``: list, show, create, archive, restore and purge threads.

The list filters are declared once here and shared with ``export``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.json import JSON

from ..models import Thread, ThreadCreate, ThreadListQuery
from .base import (
    Field,
    commands,
    examples,
    out,
    print_json,
    print_list,
    print_record,
    usage_error,
    when,
)
from .connection import LOCAL, Connection, connected
from .options import (
    AfterOption,
    AllOption,
    JsonOption,
    LimitOption,
    SpaceOption,
    json_argument,
    json_object,
    key_values,
)

__all__ = [
    "MetadataFilterOption",
    "OwnerOption",
    "PublicOption",
    "QueryOption",
    "Status",
    "StatusOption",
    "ThreadArgument",
    "TitleOption",
    "app",
    "thread_query",
]

app = commands("List, show, create, archive, restore and purge threads.")


class Status(StrEnum):
    active = "active"
    archived = "archived"
    all = "all"


class OrderBy(StrEnum):
    updated_at = "updated_at"
    created_at = "created_at"


class Order(StrEnum):
    asc = "asc"
    desc = "desc"


ThreadArgument = Annotated[str, typer.Argument(metavar="THREAD", help="The thread's id.")]
FILTERS = "Filters"
StatusOption = Annotated[
    Status, typer.Option(help="Active threads, archived ones, or all.", rich_help_panel=FILTERS)
]
OwnerOption = Annotated[
    str | None,
    typer.Option("--owner", metavar="ID", help="Only this owner's.", rich_help_panel=FILTERS),
]
TitleOption = Annotated[
    str | None,
    typer.Option(
        metavar="TEXT", help="Only threads with this exact title.", rich_help_panel=FILTERS
    ),
]
PublicOption = Annotated[
    bool | None,
    typer.Option(
        "--public/--no-public", help="Only public or only private threads.", rich_help_panel=FILTERS
    ),
]
MetadataFilterOption = Annotated[
    list[str] | None,
    typer.Option(
        "--metadata",
        metavar="KEY=VALUE",
        help="Only threads whose metadata KEY has this value (as text; true/false for "
        "booleans). Repeat it: all must match.",
        rich_help_panel=FILTERS,
    ),
]
QueryOption = Annotated[
    str | None,
    typer.Option(
        "--q", metavar="TEXT", help="Titles containing this, any case.", rich_help_panel=FILTERS
    ),
]

THREAD_FIELDS = (
    Field("id", "id"),
    Field("title", "title", flexible=True),
    Field("status", "status"),
    Field("owner", "owner_id"),
    Field("messages", "message_count"),
    Field("updated", when("updated_at")),
)
THREAD_RECORD = (
    Field("id", "id"),
    Field("space", "space_id"),
    Field("title", "title"),
    Field("status", "status"),
    Field("owner", "owner_id"),
    Field("public", lambda thread: "yes" if thread.public else "no"),
    Field("metadata", "metadata"),
    Field("roles", lambda thread: {name: role.name for name, role in thread.role_mapping.items()}),
    Field("messages", "message_count"),
    Field("state version", "state_version"),
    Field("created", "created_at"),
    Field("updated", "updated_at"),
    Field("archived", "archived_at"),
)


def thread_query(
    *,
    status: Status,
    owner: str | None,
    title: str | None,
    public: bool | None,
    metadata: list[str] | None,
    q: str | None,
    order_by: str = "updated_at",
    order: str = "desc",
    limit: int = 20,
) -> ThreadListQuery:
    """The list query of the filter options."""
    return ThreadListQuery.model_validate(
        {
            "status": status.value,
            "owner_id": owner,
            "title": title,
            "public": public,
            "metadata": tuple(key_values(metadata, "--metadata").items()),
            "q": q,
            "order_by": order_by,
            "order": order,
            "limit": limit,
        }
    )


def _print_thread(thread: Thread, as_json: bool) -> None:
    if as_json:
        print_json(thread)
        return
    print_record(THREAD_RECORD, thread)
    if thread.state is not None:
        out.print("[bold]state[/]")
        out.print(JSON.from_data(thread.state))


@app.command(
    "ls",
    epilog=examples(
        "threadloom threads ls",
        "threadloom threads ls --status all --owner u-42 --metadata channel=web",
        "threadloom threads ls --all --json | jq -r .id",
    ),
)
@connected
def threads_ls(
    space: SpaceOption = "default",
    status: StatusOption = Status.active,
    owner: OwnerOption = None,
    title: TitleOption = None,
    public: PublicOption = None,
    metadata: MetadataFilterOption = None,
    q: QueryOption = None,
    order_by: Annotated[
        OrderBy, typer.Option(help="Sort by last change or by creation (a fixed order).")
    ] = OrderBy.updated_at,
    order: Annotated[Order, typer.Option(help="Newest first (desc) or oldest first.")] = (
        Order.desc
    ),
    limit: LimitOption = 20,
    every: AllOption = False,
    after: AfterOption = None,
    connection: Connection = LOCAL,
    as_json: JsonOption = False,
) -> None:
    """List the threads of a space, a page at a time (--all for every page)."""
    query = thread_query(
        status=status,
        owner=owner,
        title=title,
        public=public,
        metadata=metadata,
        q=q,
        order_by=order_by.value,
        order=order.value,
        limit=limit,
    )
    with connection.open() as access:
        print_list(
            lambda cursor: access.list_threads(space, query.model_copy(update={"after": cursor})),
            THREAD_FIELDS,
            as_json=as_json,
            every=every,
            after=after,
        )


@app.command(
    "show",
    epilog=examples(
        "threadloom threads show support-42",
        "threadloom threads show support-42 --json | jq .state",
    ),
)
@connected
def threads_show(
    thread: ThreadArgument,
    space: SpaceOption = "default",
    connection: Connection = LOCAL,
    as_json: JsonOption = False,
) -> None:
    """Show a thread: its fields and its state (`messages ls` reads its messages)."""
    with connection.open() as access:
        _print_thread(access.get_thread(space, thread), as_json)


@app.command(
    "create",
    epilog=examples(
        'threadloom threads create support-42 --title "Support chat"',
        'threadloom threads create --metadata \'{"customer": "c-42"}\'',
        "threadloom threads create --id t-1 --state '{\"step\": 1}' --json",
    ),
)
@connected
def threads_create(
    thread_id: Annotated[
        str | None, typer.Argument(metavar="[ID]", help="Its id (default: a new one).")
    ] = None,
    space: SpaceOption = "default",
    id_option: Annotated[
        str | None,
        typer.Option("--id", metavar="ID", help="The same as the ID argument."),
    ] = None,
    title: Annotated[str | None, typer.Option(metavar="TEXT", help="Its title.")] = None,
    owner: Annotated[str | None, typer.Option("--owner", metavar="ID", help="Its owner.")] = None,
    public: Annotated[bool, typer.Option("--public", help="Mark it public.")] = False,
    metadata: Annotated[
        str | None, typer.Option(metavar="JSON", help="A JSON object of metadata.")
    ] = None,
    state: Annotated[
        str | None, typer.Option(metavar="JSON", help="Its initial state, any JSON value.")
    ] = None,
    connection: Connection = LOCAL,
    as_json: JsonOption = False,
) -> None:
    """Create a thread."""
    if thread_id is not None and id_option is not None and thread_id != id_option:
        raise usage_error(f"the ID argument {thread_id!r} and --id {id_option!r} differ")
    body = ThreadCreate(
        id=thread_id if thread_id is not None else id_option,
        title=title,
        owner_id=owner,
        public=public,
        metadata=json_object(metadata, "--metadata") or {},
        state=None if state is None else json_argument(state, "--state"),
    )
    with connection.open() as access:
        _print_thread(access.create_thread(space, body), as_json)


def _set_archived(
    thread: str,
    archived: bool,
    space: str,
    connection: Connection,
    as_json: bool,
) -> None:
    with connection.open() as access:
        changed = access.set_archived(space, thread, archived)
    if as_json:
        print_json(changed)
    else:
        out.print(f"{'archived' if archived else 'restored'} {changed.id}", highlight=False)


@app.command("archive", epilog=examples("threadloom threads archive support-42"))
@connected
def threads_archive(
    thread: ThreadArgument,
    space: SpaceOption = "default",
    connection: Connection = LOCAL,
    as_json: JsonOption = False,
) -> None:
    """Archive a thread: it leaves the default listing and refuses writes until restored."""
    _set_archived(thread, True, space, connection, as_json)


@app.command("restore", epilog=examples("threadloom threads restore support-42"))
@connected
def threads_restore(
    thread: ThreadArgument,
    space: SpaceOption = "default",
    connection: Connection = LOCAL,
    as_json: JsonOption = False,
) -> None:
    """Restore an archived thread."""
    _set_archived(thread, False, space, connection, as_json)


@app.command("purge", epilog=examples("threadloom threads purge support-42"))
@connected
def threads_purge(
    thread: ThreadArgument,
    space: SpaceOption = "default",
    connection: Connection = LOCAL,
) -> None:
    """Delete a thread, its messages and its state for good (there is no undo)."""
    with connection.open() as access:
        access.purge_thread(space, thread)
    out.print(f"purged {thread}", highlight=False)
