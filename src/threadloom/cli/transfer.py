"""``threadloom export`` and ``threadloom import``: threads as JSON lines.

One line is one thread: the thread as the API shows it (with its ``state`` and
``expires_at``), plus ``messages``, all of them in order. Export pages through the threads
and through each thread's messages (never one request for a whole thread) and writes each
line as it goes; import reads one line at a time. Ids are kept, so importing a file twice
gives the same threads, and an export imported into an empty database gives the same threads
again (new timestamps aside), each expiring at the same instant as its original. A thread
whose expiry has passed by the time it is imported is not imported: it is counted as
expired.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Annotated, Any

import orjson
import typer
from pydantic import ValidationError
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ..access import Access, pages
from ..errors import AlreadyExists, ThreadloomError, ValidationFailed
from ..models import MessageCreate, MessageListQuery, Thread, ThreadCreate
from .base import commands, err, examples, fail, print_json
from .connection import LOCAL, Connection, connected
from .options import JsonOption, SpaceOption
from .threads import (
    MetadataFilterOption,
    OwnerOption,
    PublicOption,
    QueryOption,
    Status,
    StatusOption,
    TitleOption,
    thread_query,
)

__all__ = ["app"]

app = commands()

THREAD_FIELDS = (
    "id",
    "title",
    "owner_id",
    "public",
    "metadata",
    "state",
    "role_mapping",
    "expires_at",
)
MESSAGE_FIELDS = tuple(MessageCreate.model_fields)
"""What an import keeps of an exported message: the fields a new one is made of."""
BATCH_BYTES = 512 * 1024
"""Messages per append request stay under this (servers take 1 MiB bodies by default)."""

QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress bar and no summary on stderr.")
]


class OnConflict(StrEnum):
    skip = "skip"
    overwrite = "overwrite"
    fail = "fail"


@contextmanager
def _progress(quiet: bool, total: int | None = None) -> Iterator[Progress]:
    """A progress display on stderr, shown only to a person watching a terminal."""
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        *Progress.get_default_columns()[1:-1],
        TimeElapsedColumn(),
        console=err,
        disable=quiet or not err.is_terminal,
        redirect_stdout=False,
        redirect_stderr=False,
    )
    with progress:
        progress.add_task("starting", total=total)
        yield progress


# Export -----------------------------------------------------------------------------------


def _write_thread(
    sink: IO[bytes], access: Access, space: str, thread: Thread, private: bool
) -> int:
    """Writes one thread's line, each page of messages as it arrives; returns their count."""
    head = orjson.dumps(thread.model_dump(mode="json"))
    sink.write(head[:-1] + b',"messages":[')
    query = MessageListQuery(limit=100, include_private=private)
    count = 0
    for message in pages(
        lambda cursor: access.list_messages(
            space, thread.id, query.model_copy(update={"after": cursor})
        )
    ):
        sink.write((b"," if count else b"") + orjson.dumps(message.model_dump(mode="json")))
        count += 1
    sink.write(b"]}\n")
    sink.flush()
    return count


@contextmanager
def _output(path: Path | None) -> Iterator[IO[bytes]]:
    """stdout, or a file that appears (complete) only once the export has succeeded."""
    if path is None or str(path) == "-":
        sys.stdout.flush()
        yield sys.stdout.buffer
        return
    partial = path.with_name(path.name + ".partial")
    try:
        with open(partial, "wb") as sink:
            yield sink
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


@app.command(
    "export",
    epilog=examples(
        "threadloom export -o backup.jsonl",
        "threadloom export --status active --metadata customer=c-42 > c-42.jsonl",
        "threadloom export --url http://old:8000 | threadloom import - --quiet",
    ),
)
@connected
def export(
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="The file to write (default: stdout)."),
    ] = None,
    space: SpaceOption = "default",
    status: StatusOption = Status.all,
    owner: OwnerOption = None,
    title: TitleOption = None,
    public: PublicOption = None,
    metadata: MetadataFilterOption = None,
    q: QueryOption = None,
    private: Annotated[
        bool,
        typer.Option(
            "--private/--no-private",
            help="Include private messages (reader keys must leave them out).",
        ),
    ] = True,
    quiet: QuietOption = False,
    connection: Connection = LOCAL,
) -> None:
    """Write threads as JSON lines, with their messages and state.

    One line a thread, oldest first: the thread as `threads show --json` prints it, with
    `messages`, all of them in order (private ones too unless --no-private). Each line is
    written as soon as it is read, a page of messages at a time, so an export of any size
    takes little memory; a file given with -o appears only once the export is complete.
    """
    query = thread_query(
        status=status,
        owner=owner,
        title=title,
        public=public,
        metadata=metadata,
        q=q,
        order_by="created_at",
        order="asc",
        limit=100,
    )
    threads = messages = 0
    with ExitStack() as stack:
        access = stack.enter_context(connection.open())
        progress = stack.enter_context(_progress(quiet))
        sink = stack.enter_context(_output(output))
        for thread in pages(
            lambda cursor: access.list_threads(space, query.model_copy(update={"after": cursor}))
        ):
            messages += _write_thread(sink, access, space, thread, private)
            threads += 1
            progress.update(
                progress.task_ids[0], description=f"{threads} threads, {messages} messages"
            )
    if not quiet:
        where = f" to {output}" if output is not None and str(output) != "-" else ""
        err.print(f"exported {threads} threads ({messages} messages){where}", highlight=False)


# Import -----------------------------------------------------------------------------------


def _parse(line: bytes, number: int) -> tuple[ThreadCreate, list[MessageCreate], bool]:
    """The thread, its messages and whether it is archived, from one line of an export."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise fail(f"line {number}: not JSON: {exc}") from None
    if not isinstance(record, dict):
        raise fail(f"line {number}: not a thread (a JSON object)")
    try:
        thread = ThreadCreate.model_validate(
            {name: record[name] for name in THREAD_FIELDS if record.get(name) is not None}
        )
        messages = [
            MessageCreate.model_validate({name: m[name] for name in MESSAGE_FIELDS if name in m})
            for m in record.get("messages") or ()
        ]
    except ValidationFailed as exc:  # a value no access can store (validation.py)
        raise fail(f"line {number}: {exc.detail}") from None
    except (ValidationError, TypeError) as exc:
        reason = exc.errors()[0] if isinstance(exc, ValidationError) else None
        where = ".".join(str(part) for part in reason["loc"]) if reason else ""
        detail = f"{where}: {reason['msg']}" if reason else str(exc)
        raise fail(f"line {number}: {detail}") from None
    return thread, messages, record.get("status") == "archived"


def _batches(messages: Sequence[MessageCreate], size: int) -> Iterator[list[MessageCreate]]:
    """Consecutive runs of at most ``size`` messages and about ``BATCH_BYTES``."""
    batch: list[MessageCreate] = []
    weight = 0
    for message in messages:
        cost = len(message.content) + sum(map(len, message.images)) + 256
        if batch and (len(batch) == size or weight + cost > BATCH_BYTES):
            yield batch
            batch, weight = [], 0
        batch.append(message)
        weight += cost
    if batch:
        yield batch


def _expired(thread: ThreadCreate) -> bool:
    """Whether the thread's expiry (from the export) has passed."""
    return thread.expires_at is not None and thread.expires_at <= datetime.now(UTC)


def _import_thread(
    access: Access,
    space: str,
    thread: ThreadCreate,
    messages: Sequence[MessageCreate],
    archived: bool,
    on_conflict: OnConflict,
) -> str:
    """Creates one thread with its messages and state: ``imported``, ``replaced``,
    ``skipped`` or ``expired``. A thread that fails part way is removed again: nothing is
    half imported. One whose expiry has passed is left out, and a thread with its id in the
    target is left as it is."""
    if _expired(thread):
        return "expired"
    try:
        try:
            created = access.create_thread(space, thread)
            outcome = "imported"
        except AlreadyExists:
            if on_conflict is OnConflict.skip:
                return "skipped"
            if on_conflict is OnConflict.fail:
                raise fail(
                    f"thread {thread.id!r} already exists (use --on-conflict skip or overwrite)"
                ) from None
            assert thread.id is not None
            access.purge_thread(space, thread.id)
            created = access.create_thread(space, thread)
            outcome = "replaced"
        try:
            for batch in _batches(messages, access.batch_size):
                access.append_messages(space, created.id, batch)
            if archived:
                access.set_archived(space, created.id, True)
        except BaseException:
            try:
                access.purge_thread(space, created.id)
            except Exception:  # the original failure is the one to report
                pass
            raise
    except ThreadloomError:
        if _expired(thread):  # it expired while it was being written: it is gone anyway
            return "expired"
        raise
    return outcome


@contextmanager
def _input(source: str) -> Iterator[tuple[IO[bytes], int | None]]:
    """The lines to import and, for a file, its size (for the progress bar)."""
    if source == "-":
        yield sys.stdin.buffer, None
        return
    with open(source, "rb") as stream:
        yield stream, os.fstat(stream.fileno()).st_size


@app.command(
    "import",
    epilog=examples(
        "threadloom import backup.jsonl",
        "threadloom import backup.jsonl --on-conflict overwrite --url http://new:8000",
        "gunzip -c backup.jsonl.gz | threadloom import - --space staging",
    ),
)
@connected
def import_(
    source: Annotated[
        str, typer.Argument(metavar="FILE", help="JSON lines from `export`, or - for stdin.")
    ],
    space: SpaceOption = "default",
    on_conflict: Annotated[
        OnConflict,
        typer.Option(
            help="When a thread's id exists: keep it (skip), replace it (overwrite: purge "
            "and recreate it), or stop (fail, exit 1)."
        ),
    ] = OnConflict.skip,
    quiet: QuietOption = False,
    connection: Connection = LOCAL,
    as_json: JsonOption = False,
) -> None:
    """Create the threads of an export, with their ids, messages, state and expiry.

    The file is read a line at a time. Ids are kept, so importing the same file again
    changes nothing (with the default --on-conflict skip), and an export imported into an
    empty database gives the same threads (only timestamps and the state's version counter
    are new). A thread that fails part way is removed again, so nothing is half imported;
    run the import again to go on.

    A thread that expires keeps its expires_at: the copy is deleted at the same instant as
    the original. One whose expiry has already passed is not imported (it would be deleted
    on arrival) and is counted as expired; a thread with its id in the target is left as it
    is, whatever --on-conflict says. A thread without an expiry takes the target space's
    default time to live, if it has one.
    """
    counts = {"imported": 0, "replaced": 0, "skipped": 0, "expired": 0, "messages": 0}
    with ExitStack() as stack:
        stream, size = stack.enter_context(_input(source))
        access = stack.enter_context(connection.open())
        progress = stack.enter_context(_progress(quiet, size))
        task = progress.task_ids[0]
        for number, line in enumerate(stream, start=1):
            progress.advance(task, len(line))
            if not line.strip():
                continue
            thread, messages, archived = _parse(line, number)
            try:
                outcome = _import_thread(access, space, thread, messages, archived, on_conflict)
            except ThreadloomError as exc:
                raise fail(f"line {number}: thread {thread.id!r}: {exc.detail}") from None
            counts[outcome] += 1
            if outcome in ("imported", "replaced"):
                counts["messages"] += len(messages)
            threads = sum(counts[name] for name in ("imported", "replaced", "skipped", "expired"))
            progress.update(task, description=f"{threads} threads, {counts['messages']} messages")
    if as_json:
        print_json(counts)
    elif not quiet:
        err.print(_summary(counts), highlight=False)


def _summary(counts: dict[str, Any]) -> str:
    return (
        f"imported {counts['imported']} threads, replaced {counts['replaced']}, skipped "
        f"{counts['skipped']}, expired {counts['expired']} ({counts['messages']} messages "
        "written)"
    )
