"""``threadloom state``: read, replace and merge-patch a thread's versioned state."""

from __future__ import annotations

from typing import Annotated

import typer

from ..models import State
from .base import commands, err, examples, out, print_json
from .connection import LOCAL, Connection, connected
from .options import (
    JsonOption,
    SpaceOption,
    json_argument,
)
from .threads import ThreadArgument

__all__ = ["app"]

app = commands("Read, replace and merge-patch a thread's state (any JSON value, versioned).")

JsonArgument = Annotated[str, typer.Argument(metavar="JSON", help="JSON, or - to read stdin.")]
IfMatchOption = Annotated[
    int | None,
    typer.Option(
        "--if-match",
        metavar="VERSION",
        min=0,
        help="Write only if the state is still at this version (else: exit 1, nothing written).",
    ),
]


def _print_state(state: State, as_json: bool) -> None:
    if as_json:
        print_json(state)
    else:
        out.print(f"state of {state.thread_id} is at version {state.version}", highlight=False)


@app.command(
    "get",
    epilog=examples(
        "threadloom state get support-42",
        "threadloom state get support-42 > state.json",
        "threadloom state get support-42 --json | jq .version",
    ),
)
@connected
def state_get(
    thread: ThreadArgument,
    space: SpaceOption = "default",
    connection: Connection = LOCAL,
    as_json: JsonOption = False,
) -> None:
    """Print the state as JSON.

    Its version goes to stderr, so stdout is the state alone; --json prints the state
    document (state, version, updated_at) instead.
    """
    with connection.open() as access:
        state = access.get_state(space, thread)
    if as_json:
        print_json(state)
        return
    err.print(f"version {state.version}", highlight=False)
    print_json(state.state)


def _write(
    merge: bool,
    thread: str,
    value: str,
    if_match: int | None,
    space: str,
    connection: Connection,
    as_json: bool,
) -> None:
    document = json_argument(value, "JSON")
    with connection.open() as access:
        if merge:
            state = access.patch_state(space, thread, document, if_match)
        else:
            state = access.put_state(space, thread, document, if_match)
    _print_state(state, as_json)


@app.command(
    "set",
    epilog=examples(
        'threadloom state set support-42 \'{"step": "greeting"}\'',
        "threadloom state set support-42 - --if-match 3 < state.json",
    ),
)
@connected
def state_set(
    thread: ThreadArgument,
    value: JsonArgument,
    if_match: IfMatchOption = None,
    space: SpaceOption = "default",
    connection: Connection = LOCAL,
    as_json: JsonOption = False,
) -> None:
    """Replace the state."""
    _write(False, thread, value, if_match, space, connection, as_json)


@app.command(
    "patch",
    epilog=examples(
        'threadloom state patch support-42 \'{"step": "done", "draft": null}\'',
        'threadloom state patch support-42 \'{"step": "done"}\' --if-match 4',
    ),
)
@connected
def state_patch(
    thread: ThreadArgument,
    value: JsonArgument,
    if_match: IfMatchOption = None,
    space: SpaceOption = "default",
    connection: Connection = LOCAL,
    as_json: JsonOption = False,
) -> None:
    """Merge a JSON merge patch into the state.

    RFC 7396: objects merge key by key, null removes a key, anything else replaces.
    """
    _write(True, thread, value, if_match, space, connection, as_json)
