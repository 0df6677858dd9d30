"""``threadloom messages``: read a thread's messages and append to it."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from ..models import Message, MessageCreate, MessageListQuery
from .base import Field, commands, examples, out, print_json, print_list
from .connection import LOCAL, Connection, connected
from .options import (
    AfterOption,
    AllOption,
    JsonOption,
    LimitOption,
    SpaceOption,
    json_object,
    text_argument,
)
from .threads import Order, ThreadArgument

__all__ = ["app"]

app = commands("Read a thread's messages and append to it.")


def shown_content(message: Message) -> str:
    """What the content column shows: the text, an assistant's tool calls after it
    (``→ name(arguments)``), and which call a tool result answers (``← call_id``)."""
    parts = [message.content] if message.content else []
    if message.tool_call_id is not None:
        parts.insert(0, f"← {message.tool_call_id}")
    for call in message.tool_calls or ():
        parts.append(f"→ {call.function.name}({call.function.arguments})")
    return " ".join(parts)


MESSAGE_FIELDS = (
    Field("seq", "seq"),
    Field("id", "id"),
    Field("role", "role"),
    Field("name", "name"),
    Field("content", shown_content, flexible=True),
    Field("images", lambda message: len(message.images) or None),
    Field("private", "private"),
)


@app.command(
    "ls",
    epilog=examples(
        "threadloom messages ls support-42",
        "threadloom messages ls support-42 --order desc --limit 5",
        "threadloom messages ls support-42 --all --json > support-42.jsonl",
    ),
)
@connected
def messages_ls(
    thread: ThreadArgument,
    space: SpaceOption = "default",
    limit: LimitOption = 20,
    order: Annotated[Order, typer.Option(help="Oldest first (asc) or newest first.")] = Order.asc,
    role: Annotated[
        str | None, typer.Option(metavar="ROLE", help="Only messages of this role.")
    ] = None,
    include_private: Annotated[
        bool, typer.Option("--include-private", help="Private messages too (not reader keys).")
    ] = False,
    every: AllOption = False,
    after: AfterOption = None,
    connection: Connection = LOCAL,
    as_json: JsonOption = False,
) -> None:
    """List a thread's messages in order, a page at a time (--all for every page)."""
    query = MessageListQuery(
        limit=limit, order=order.value, role=role, include_private=include_private
    )
    with connection.open() as access:
        print_list(
            lambda cursor: access.list_messages(
                space, thread, query.model_copy(update={"after": cursor})
            ),
            MESSAGE_FIELDS,
            as_json=as_json,
            every=every,
            after=after,
        )


def _json_array(text: str, option: str) -> list[Any]:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, list):
        raise typer.BadParameter("must be a JSON array", param_hint=option)
    return value


@app.command(
    "add",
    epilog=examples(
        'threadloom messages add support-42 "Hi! How can I help?" --role assistant',
        "git log -1 | threadloom messages add support-42 - --role tool",
        "threadloom messages add support-42 'And this?' --image https://x.io/cat.png",
        'threadloom messages add support-42 Hi --metadata \'{"lang": "en"}\' --private',
        "threadloom messages add support-42 '{\"temp\": 21}' --role tool --tool-call-id call_1",
    ),
)
@connected
def messages_add(
    thread: ThreadArgument,
    content: Annotated[
        str, typer.Argument(metavar="CONTENT", help="The text, or - to read it from stdin.")
    ],
    space: SpaceOption = "default",
    role: Annotated[
        str, typer.Option(metavar="ROLE", help="Who speaks: user, assistant, system...")
    ] = "user",
    private: Annotated[bool, typer.Option("--private", help="Never shown to reader keys.")] = False,
    metadata: Annotated[
        str | None, typer.Option(metavar="JSON", help="A JSON object of metadata.")
    ] = None,
    images: Annotated[
        list[str] | None,
        typer.Option("--image", metavar="URL", help="An http(s) or data: URL; repeatable."),
    ] = None,
    message_id: Annotated[
        str | None,
        typer.Option("--id", metavar="ID", help="The id to give it (default: a new one)."),
    ] = None,
    tool_calls: Annotated[
        str | None,
        typer.Option(
            metavar="JSON",
            help='An assistant\'s tool calls: [{"id", "function": {"name", "arguments"}}].',
        ),
    ] = None,
    tool_call_id: Annotated[
        str | None, typer.Option(metavar="ID", help="The call a tool message answers.")
    ] = None,
    name: Annotated[str | None, typer.Option(metavar="NAME", help="Who wrote it.")] = None,
    connection: Connection = LOCAL,
    as_json: JsonOption = False,
) -> None:
    """Append a message to a thread."""
    fields: dict[str, Any] = {
        "id": message_id,
        "role": role,
        "content": text_argument(content, "CONTENT"),
        "images": images or [],
        "private": private,
        "metadata": json_object(metadata, "--metadata") or {},
        "tool_call_id": tool_call_id,
        "name": name,
    }
    if tool_calls is not None:
        fields["tool_calls"] = _json_array(tool_calls, "--tool-calls")
    message = MessageCreate.model_validate(fields)
    with connection.open() as access:
        (added,) = access.append_messages(space, thread, [message])
    if as_json:
        print_json(added)
    else:
        out.print(f"added {added.id} (seq {added.seq}) to {thread}", highlight=False)
