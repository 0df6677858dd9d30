"""``threadloom chat``: talk to a space's assistant in the terminal.

A session is a thread of the space, created by its first message; without ``--session`` the
last one used with the same server (or database) and space is resumed (``last_session``).
Replies stream to stdout; the prompt, notices, errors and each reply's footer (model, tokens,
latency) go to stderr. Lines from a pipe are the same conversation without the prompt, so
``echo Hi | threadloom chat`` asks one question. An error ends ``--message``; otherwise it is
one line and the chat goes on (a pipe still exits 1 at its end).
"""

from __future__ import annotations

import contextlib
import sys
from typing import Annotated

import typer

from ..access import Access, pages
from ..errors import AlreadyExists, NotFound
from ..ids import new_id
from ..models import Assistant, Message, MessageListQuery, PageQuery, ThreadCreate
from .base import err, examples, fail, print_json, print_json_line
from .chat_view import HELP, footer, print_assistants, print_transcript, report_error
from .connection import LOCAL, Connection, connected
from .last_session import recall, remember
from .options import (
    JsonOption,
    SpaceOption,
    text_argument,
)

__all__ = ["app"]

app = typer.Typer(rich_markup_mode="markdown")

HISTORY_MESSAGES = 20


class Chat:
    """A conversation with one session at a time, the lines it reads, and what it prints."""

    def __init__(self, access: Access, space: str, *, as_json: bool, prompt: bool) -> None:
        self.access = access
        self.space = space
        self.as_json = as_json
        self.prompt = prompt
        self.session = ""
        self.exists = False
        self.assistant: str | None = None

    def open(self, session: str | None) -> None:
        """Continue ``session``, or the last one, or a new one; and say which."""
        self.session = session or recall(self.access.where, self.space) or new_id("ses")
        try:
            count = self.access.get_thread(self.space, self.session).message_count
            self.exists, how = True, f"continued, {count} messages"
        except NotFound:
            self.exists, how = False, "new"
        remember(self.access.where, self.space, self.session)
        err.print(f"session [bold]{self.session}[/] ({how}) in space {self.space}", highlight=False)

    def new(self) -> None:
        self.session, self.exists = new_id("ses"), False
        remember(self.access.where, self.space, self.session)
        err.print(f"new session [bold]{self.session}[/]", highlight=False)

    def send(self, text: str) -> Message:
        """Send ``text`` and print the reply as it is written; the stored reply."""
        if not self.exists:
            with contextlib.suppress(AlreadyExists):
                self.access.create_thread(self.space, ThreadCreate(id=self.session))
            self.exists = True
        try:
            reply = self._stream(text)
        except KeyboardInterrupt:  # the stream is closed: the server keeps what it has
            err.print("stopped: what the assistant wrote is kept, marked incomplete")
            raise
        if reply is None:
            raise fail("the reply ended without being stored")
        if not self.as_json:
            err.print(footer(reply), style="dim", markup=False, highlight=False)
        return reply

    def _stream(self, text: str) -> Message | None:
        """Print the reply as it comes (not with --json); the stored reply, once done."""
        reply: Message | None = None
        written = labelled = False
        try:
            with contextlib.closing(
                self.access.chat(self.space, self.session, text, self.assistant)
            ) as events:
                for event in events:
                    if event.type == "start" and self.prompt:
                        err.print("[bold magenta]assistant[/] › ", end="")
                        labelled = True
                    elif event.type == "delta" and not self.as_json:
                        sys.stdout.write(event.text)
                        sys.stdout.flush()
                        written = True
                    elif event.type == "done":
                        reply = event.message
        finally:
            if written:
                sys.stdout.write("\n")
                sys.stdout.flush()
            elif labelled:  # nothing came: end the label's line
                err.print()
        return reply

    def history(self) -> None:
        query = MessageListQuery(order="desc", limit=HISTORY_MESSAGES)
        try:
            messages = self.access.list_messages(self.space, self.session, query).data
        except NotFound:
            messages = []
        print_transcript(messages[::-1])

    def assistants(self) -> list[Assistant]:
        return list(
            pages(lambda after: self.access.list_assistants(self.space, PageQuery(after=after)))
        )

    def choose(self, wanted: str) -> None:
        """Switch to the assistant whose id, else whose name, is ``wanted``."""
        found = self.assistants()
        by_id = [a for a in found if a.id == wanted]
        named = by_id or [a for a in found if a.name.casefold() == wanted.casefold()]
        if len(named) > 1:
            ids = ", ".join(a.id for a in named)
            raise fail(f"several assistants are named {wanted!r} ({ids}): give an id")
        if named:
            self.assistant = named[0].id
            label = f"{named[0].name} ({named[0].id})"
        elif wanted == "default":
            self.assistant, label = None, "the default assistant"
        else:
            raise fail(f"there is no assistant {wanted!r} in space {self.space!r}")
        err.print(f"assistant: {label}", markup=False, highlight=False)

    def handle(self, line: str) -> bool:
        """Do what a line says; False to quit."""
        command, _, argument = line.partition(" ")
        if not line.startswith("/") or line.startswith("//"):
            reply = self.send(line[1:] if line.startswith("//") else line)
            if self.as_json:
                print_json_line(reply)
        elif command in ("/quit", "/exit"):
            return False
        elif command == "/new":
            self.new()
        elif command == "/history":
            self.history()
        elif command == "/assistant" and argument.strip():
            self.choose(argument.strip())
        elif command == "/assistant":
            print_assistants(self.assistants(), self.assistant)
        elif command == "/help":
            err.print(HELP, markup=False, highlight=False)
        else:
            raise fail(f"unknown command {command}: /help lists them")
        return True

    def read(self) -> str | None:
        """The next line (None at the end), with the prompt on a terminal."""
        if self.prompt:
            return err.input("[bold green]you[/] › ")
        line = sys.stdin.readline()
        return line.rstrip("\r\n") if line else None

    def loop(self) -> bool:
        """Read and answer lines until the end; False when any of them failed."""
        succeeded = True
        while True:
            try:
                line = self.read()
            except (EOFError, KeyboardInterrupt):
                line = None
            if line is None:
                if self.prompt:
                    err.print()
                return succeeded
            if not line.strip():
                continue
            try:
                if not self.handle(line.strip()):
                    return succeeded
            except KeyboardInterrupt:
                pass  # what was going on stopped; back to the prompt
            except Exception as exc:
                report_error(exc)
                succeeded = False


@app.command(
    "chat",
    epilog=examples(
        "threadloom chat",
        "threadloom chat --session support-42 --assistant Ada",
        'threadloom chat --message "Summarize our plan" --json',
        "echo 'What is 2 + 2?' | threadloom chat --url http://127.0.0.1:8000",
    ),
)
@connected
def chat(
    session: Annotated[
        str | None,
        typer.Option(
            "--session",
            metavar="ID",
            help="The session (a thread of the space) to continue; created by its first "
            "message. Default: the last session used here.",
        ),
    ] = None,
    assistant: Annotated[
        str | None,
        typer.Option(metavar="NAME_OR_ID", help="Who answers (default: the space's default)."),
    ] = None,
    message: Annotated[
        str | None,
        typer.Option(
            "--message",
            "-m",
            metavar="TEXT",
            help="Send this one message (- reads it from stdin), print the reply and exit.",
        ),
    ] = None,
    space: SpaceOption = "default",
    connection: Connection = LOCAL,
    as_json: JsonOption = False,
) -> None:
    """Chat with an assistant, the reply streamed as it is written.

    Type a message, or a command: /new, /history, /assistant [NAME], /help, /quit. The
    last session is resumed on the next run (it is kept in THREADLOOM_STATE_DIR, default
    ~/.local/state/threadloom). Lines piped in are sent one by one, without a prompt. The
    reply goes to stdout; with --json, each stored reply as JSON instead of its text.
    Without --url, the chat runs on the database with the server's language model settings
    (THREADLOOM_LLM_*; offline by default)."""
    text = text_argument(message, "--message") if message is not None else None
    interactive = text is None and sys.stdin.isatty()
    with connection.open() as access:
        conversation = Chat(access, space, as_json=as_json, prompt=interactive)
        conversation.open(session)
        if assistant is not None:
            conversation.choose(assistant)
        if text is None:
            if interactive:
                with contextlib.suppress(ImportError):
                    import readline  # noqa: F401  (line editing and history for input())
                err.print(
                    "/help for commands, /quit or Ctrl-D to leave", style="dim", highlight=False
                )
            if not conversation.loop():
                raise typer.Exit(1)
            return
        try:
            reply = conversation.send(text)
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
    if as_json:
        print_json(reply)
