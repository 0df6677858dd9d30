"""``threadloom export`` and ``threadloom import`` between local SQLite databases."""

from __future__ import annotations

import io
import json
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Cli, json_lines, ok, one_line_error
from threadloom.access import Access
from threadloom.access.local import LocalAccess
from threadloom.cli.connection import Connection
from threadloom.errors import ServiceUnavailable
from threadloom.local import LocalStore
from threadloom.models import Message, MessageCreate, MessageListQuery, Page, Role, ThreadCreate
from threadloom.store.base import format_ts, utc_now

LONG = 250  # messages: more than two pages of 100


def seed(url: str) -> None:
    """Threads with everything a thread can have, one longer than two pages."""
    local = LocalStore(url)
    services, me, run = local.services, local.principal, local.run
    try:
        rich = ThreadCreate(
            id="rich",
            title="Support chat",
            owner_id="u-1",
            public=True,
            metadata={"customer": "c-42", "tier": 2, "tags": ["a", "b"]},
            state={"step": "greeting", "items": [1, 2]},
            role_mapping={"assistant": Role(name="Ada", user_id="bot", icon="https://x/a.png")},
            ttl_seconds=30 * 24 * 3600,  # its copies must expire at the same instant
        )
        run(services.threads.create(me, "default", rich))
        messages = [
            MessageCreate(id="m-1", role="system", content="Be kind."),
            MessageCreate(
                role="user",
                content="What is this?\nA picture:",
                images=["https://example.com/cat.png", "data:image/png;base64,iVBORw0KGgo="],
                metadata={"lang": "en"},
            ),
            MessageCreate(role="assistant", content="A cat.", private=True, metadata={"n": 1}),
            MessageCreate(role="tool", content='ünïcødé ✓ "quotes" and \\ backslashes'),
            MessageCreate.model_validate(
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "c-1", "function": {"name": "look", "arguments": '{"q": 1}'}}
                    ],
                }
            ),
            MessageCreate(role="tool", tool_call_id="c-1", name="look", content="found"),
            MessageCreate.model_validate(
                {"item": {"type": "reasoning", "summary": [], "encrypted_content": "gAAA"}}
            ),
        ]
        run(services.threads.append(me, "default", "rich", messages))
        for step in ("asked", "answered"):  # the state moves on: its version is not 1
            run(services.state.patch(me, "default", "rich", {"step": step}))

        run(services.threads.create(me, "default", ThreadCreate(id="long", title="Long")))
        for start in range(0, LONG, 100):
            batch = [
                MessageCreate(role="user" if n % 2 else "assistant", content=f"message {n}")
                for n in range(start, min(start + 100, LONG))
            ]
            run(services.threads.append(me, "default", "long", batch))

        run(services.threads.create(me, "default", ThreadCreate(id="empty")))
        old = ThreadCreate(id="old", title="Archived", state=[1, 2, 3])
        run(services.threads.create(me, "default", old, [MessageCreate(content="bye")]))
        run(services.threads.set_status(me, "default", "old", True))
    finally:
        local.close()


CHANGING = {"created_at", "updated_at", "archived_at", "state_version"}


def comparable(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Export lines without what a re-creation cannot keep (timestamps, the state's version
    counter), by thread id."""
    result = []
    for line in sorted(lines, key=lambda thread: thread["id"]):
        thread = {key: value for key, value in line.items() if key not in CHANGING}
        thread["messages"] = [
            {key: value for key, value in message.items() if key != "created_at"}
            for message in line["messages"]
        ]
        result.append(thread)
    return result


@pytest.fixture
def empty_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "target.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def source(local: Cli, sqlite_url: str, tmp_path: Path) -> Path:
    """An export of the seeded database."""
    seed(sqlite_url)
    path = tmp_path / "export.jsonl"
    done = ok(local("export", "-o", str(path)))
    assert "exported 4 threads" in done.stderr
    return path


def export_of(local: Cli, url: str) -> list[dict[str, Any]]:
    return json_lines(ok(local("export", "--quiet", "--database-url", url)).stdout)


class TestExport:
    def test_lines(self, source: Path) -> None:
        lines = json_lines(source.read_text())
        assert [line["id"] for line in lines] == ["rich", "long", "empty", "old"]  # oldest first
        rich, long, empty, old = lines
        assert rich["state"] == {"step": "answered", "items": [1, 2]}
        assert rich["role_mapping"]["assistant"]["name"] == "Ada"
        assert [m["role"] for m in rich["messages"]] == [
            "system",
            "user",
            "assistant",
            "tool",
            "assistant",
            "tool",
            "reasoning",
        ]
        call, result, reasoning = rich["messages"][4:]
        assert reasoning["item"]["encrypted_content"] == "gAAA"
        assert call["tool_calls"] == [
            {"id": "c-1", "type": "function", "function": {"name": "look", "arguments": '{"q": 1}'}}
        ]
        assert (result["tool_call_id"], result["name"]) == ("c-1", "look")
        assert "tool_calls" not in rich["messages"][0]  # only the messages that have them
        assert rich["messages"][2]["private"] is True  # private messages are exported
        assert [m["seq"] for m in long["messages"]] == list(range(1, LONG + 1))
        assert long["message_count"] == LONG
        assert empty["messages"] == []
        assert empty["state"] is None
        assert old["status"] == "archived"
        assert rich["expires_at"] is not None
        assert [line["expires_at"] for line in (long, empty, old)] == [None, None, None]

    def test_to_stdout_with_filters(self, local: Cli, source: Path) -> None:
        assert source.exists()
        active = json_lines(ok(local("export", "--status", "active")).stdout)
        assert [line["id"] for line in active] == ["rich", "long", "empty"]
        mine = json_lines(ok(local("export", "--owner", "u-1", "--metadata", "tier=2")).stdout)
        assert [line["id"] for line in mine] == ["rich"]
        titled = json_lines(ok(local("export", "--q", "LONG", "--no-public")).stdout)
        assert [line["id"] for line in titled] == ["long"]
        public = json_lines(ok(local("export", "--public", "--no-private")).stdout)
        assert [m["private"] for m in public[0]["messages"]] == [False] * 6

    def test_pages_through_messages_and_writes_each_line_when_built(
        self, local: Cli, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        seed(sqlite_url)
        requests: list[tuple[str, int, int]] = []  # thread, limit, lines written before

        class Recording(LocalAccess):
            def list_messages(
                self, space: str, thread: str, query: MessageListQuery
            ) -> Page[Message]:
                output = sys.stdout.buffer  # the runner's, in memory
                assert isinstance(output, io.BytesIO)
                written = output.getvalue().count(b"\n")
                requests.append((thread, query.limit, written))
                return super().list_messages(space, thread, query)

        use_backend(monkeypatch, Recording.open(sqlite_url))
        ok(local("export"))
        assert all(limit <= 100 for _, limit, _ in requests)
        assert [thread for thread, _, _ in requests].count("long") == 3
        first_request = {thread: written for thread, _, written in reversed(requests)}
        assert first_request == {"rich": 0, "long": 1, "empty": 2, "old": 3}

    def test_a_failed_export_leaves_no_file(
        self, local: Cli, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        seed(sqlite_url)

        class Failing(LocalAccess):
            def list_messages(
                self, space: str, thread: str, query: MessageListQuery
            ) -> Page[Message]:
                if thread == "long":
                    raise ServiceUnavailable("the database went away")
                return super().list_messages(space, thread, query)

        use_backend(monkeypatch, Failing.open(sqlite_url))
        path = tmp_path / "out.jsonl"
        assert "went away" in one_line_error(local("export", "-o", str(path)))
        assert list(tmp_path.glob("out.jsonl*")) == []


def use_backend(monkeypatch: pytest.MonkeyPatch, access: Access) -> None:
    """Makes the commands (``export`` and ``import`` here) work through ``access``."""

    @contextmanager
    def open_access(_: Connection) -> Iterator[Access]:
        try:
            yield access
        finally:
            access.close()

    monkeypatch.setattr(Connection, "open", open_access)


class TestImport:
    def test_into_an_empty_database_gives_identical_threads(
        self, local: Cli, sqlite_url: str, source: Path, empty_url: str
    ) -> None:
        done = ok(local("import", str(source), "--database-url", empty_url))
        assert "imported 4 threads" in done.stderr
        assert comparable(export_of(local, empty_url)) == comparable(export_of(local, sqlite_url))

    def test_twice_gives_the_same_threads(self, local: Cli, source: Path, empty_url: str) -> None:
        ok(local("import", str(source), "--database-url", empty_url))
        first = export_of(local, empty_url)
        again = ok(local("import", str(source), "--database-url", empty_url, "--json"))
        assert json.loads(again.stdout) == {
            "imported": 0,
            "replaced": 0,
            "skipped": 4,
            "expired": 0,
            "messages": 0,
        }
        assert export_of(local, empty_url) == first

    def test_from_stdin(self, local: Cli, source: Path, empty_url: str) -> None:
        text = source.read_text()
        ok(local("import", "-", "--database-url", empty_url, input=text))
        assert comparable(export_of(local, empty_url)) == comparable(json_lines(text))

    def test_into_another_space(self, local: Cli, source: Path, empty_url: str) -> None:
        ok(local("spaces", "create", "copy", "--database-url", empty_url))
        ok(local("import", str(source), "--space", "copy", "--database-url", empty_url))
        assert export_of(local, empty_url) == []
        copied = json_lines(
            ok(local("export", "--space", "copy", "--database-url", empty_url)).stdout
        )
        assert len(copied) == 4
        assert {line["space_id"] for line in copied} == {"copy"}


def in_the_past(lines: list[str], thread_id: str) -> list[str]:
    """The lines of an export, with ``thread_id`` expired a minute ago."""
    changed = []
    for line in lines:
        record = json.loads(line)
        if record["id"] == thread_id:
            record["expires_at"] = format_ts(utc_now() - timedelta(minutes=1))
        changed.append(json.dumps(record))
    return changed


class TestExpiry:
    def test_each_thread_expires_at_the_same_instant_as_its_original(
        self, local: Cli, sqlite_url: str, source: Path, empty_url: str
    ) -> None:
        ok(local("import", str(source), "--database-url", empty_url))
        original = {line["id"]: line["expires_at"] for line in export_of(local, sqlite_url)}
        copied = {line["id"]: line["expires_at"] for line in export_of(local, empty_url)}
        assert copied == original
        assert original["rich"] is not None
        assert original["long"] is None

    def test_an_expired_thread_is_counted_and_not_imported(
        self, local: Cli, source: Path, empty_url: str, tmp_path: Path
    ) -> None:
        stale = tmp_path / "stale.jsonl"
        stale.write_text("\n".join(in_the_past(source.read_text().splitlines(), "rich")) + "\n")
        done = ok(local("import", str(stale), "--database-url", empty_url, "--json"))
        assert json.loads(done.stdout) == {
            "imported": 3,
            "replaced": 0,
            "skipped": 0,
            "expired": 1,
            "messages": LONG + 1,
        }
        assert [line["id"] for line in export_of(local, empty_url)] == ["long", "empty", "old"]
        text = ok(local("import", str(stale), "--database-url", empty_url)).stderr
        assert "skipped 3, expired 1" in text

    @pytest.mark.parametrize("on_conflict", ["overwrite", "fail"])
    def test_an_expired_thread_leaves_a_thread_with_its_id_alone(
        self, local: Cli, source: Path, empty_url: str, on_conflict: str
    ) -> None:
        ok(local("import", str(source), "--database-url", empty_url))
        ok(local("state", "set", "rich", '"changed"', "--database-url", empty_url))
        only_rich = [line for line in source.read_text().splitlines() if '"id":"rich"' in line]
        assert len(only_rich) == 1
        (stale,) = in_the_past(only_rich, "rich")
        done = ok(
            local(
                "import",
                "-",
                "--on-conflict",
                on_conflict,
                "--json",
                "--database-url",
                empty_url,
                input=stale,
            )
        )
        assert json.loads(done.stdout)["expired"] == 1
        (rich,) = [line for line in export_of(local, empty_url) if line["id"] == "rich"]
        assert rich["state"] == "changed"
        assert len(rich["messages"]) == 7

    def test_a_thread_that_expires_while_it_is_imported_is_counted_as_expired(
        self, local: Cli, empty_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Its expiry passes between its creation and its messages: nothing is left of it,
        and the import goes on."""
        soon = utc_now() + timedelta(seconds=1)

        class Slow(LocalAccess):
            def append_messages(
                self, space: str, thread: str, messages: Sequence[MessageCreate]
            ) -> list[Message]:
                if thread == "brief":
                    while utc_now() <= soon:
                        time.sleep(0.05)
                return super().append_messages(space, thread, messages)

        real_open = Connection.open
        use_backend(monkeypatch, Slow.open(empty_url))
        lines = [
            {"id": "brief", "expires_at": format_ts(soon), "messages": [{"content": "a"}]},
            {"id": "after", "messages": [{"content": "b"}]},
        ]
        text = "\n".join(json.dumps(line) for line in lines)
        done = ok(local("import", "-", "--json", input=text))
        counts = json.loads(done.stdout)
        assert (counts["imported"], counts["expired"], counts["messages"]) == (1, 1, 1)
        monkeypatch.setattr(Connection, "open", real_open)
        assert [line["id"] for line in export_of(local, empty_url)] == ["after"]

    def test_the_target_rejects_what_it_cannot_keep(self, local: Cli, empty_url: str) -> None:
        """An expiry more than ten years away is the target's validation error, cleanly."""
        far = format_ts(utc_now() + timedelta(days=11 * 366))
        line = json.dumps({"id": "t", "expires_at": far})
        error = one_line_error(local("import", "-", "--database-url", empty_url, input=line))
        assert "line 1: thread 't'" in error
        assert "ten years" in error
        assert export_of(local, empty_url) == []


class TestOnConflict:
    @pytest.fixture
    def changed(self, local: Cli, source: Path, empty_url: str) -> str:
        """The target after an import, then changes to one of its threads."""
        ok(local("import", str(source), "--database-url", empty_url))
        ok(local("messages", "add", "rich", "added later", "--database-url", empty_url))
        ok(local("state", "set", "rich", '"changed"', "--database-url", empty_url))
        return empty_url

    def rich(self, local: Cli, url: str) -> dict[str, Any]:
        (line,) = [line for line in export_of(local, url) if line["id"] == "rich"]
        return line

    def test_skip_keeps_what_is_there(self, local: Cli, source: Path, changed: str) -> None:
        done = ok(local("import", str(source), "--on-conflict", "skip", "--database-url", changed))
        assert "skipped 4" in done.stderr
        rich = self.rich(local, changed)
        assert rich["state"] == "changed"
        assert rich["messages"][-1]["content"] == "added later"

    def test_overwrite_recreates_the_threads(self, local: Cli, source: Path, changed: str) -> None:
        done = ok(
            local("import", str(source), "--on-conflict", "overwrite", "--database-url", changed)
        )
        assert "replaced 4" in done.stderr
        assert comparable(export_of(local, changed)) == comparable(json_lines(source.read_text()))

    def test_fail_stops_at_the_first_existing_thread(
        self, local: Cli, source: Path, changed: str
    ) -> None:
        line = one_line_error(
            local("import", str(source), "--on-conflict", "fail", "--database-url", changed)
        )
        assert "'rich'" in line
        assert "already exists" in line
        assert self.rich(local, changed)["state"] == "changed"


class TestBadInput:
    def test_a_bad_line_stops_after_the_lines_before_it(
        self, local: Cli, source: Path, empty_url: str, tmp_path: Path
    ) -> None:
        lines = source.read_text().splitlines()
        broken = tmp_path / "broken.jsonl"
        broken.write_text("\n".join([lines[0], "", lines[1], "{not json", lines[2]]) + "\n")
        error = one_line_error(local("import", str(broken), "--database-url", empty_url))
        assert error.startswith("error: line 4: not JSON")
        assert [line["id"] for line in export_of(local, empty_url)] == ["rich", "long"]

    @pytest.mark.parametrize(
        ("line", "text"),
        [
            ("[1, 2]", "line 1: not a thread"),
            ('{"id": "bad id!"}', "line 1: id"),
            ('{"id": "t", "messages": [{"role": ""}]}', "line 1: role"),
            ('{"id": "t", "messages": [{"images": ["ftp://x"]}]}', "line 1: images"),
            ('{"id": "t", "expires_at": "tomorrow"}', "line 1: expires_at"),
            ('{"id": "t", "expires_at": "2999-01-01T00:00:00"}', "line 1: expires_at"),
            ('{"id": "t", "title": "a\\u0000"}', "line 1: body.title contains a NUL"),
            (
                '{"id": "t", "messages": [{"metadata": {"n": 18446744073709551615}}]}',
                "line 1: body.metadata.n",
            ),
        ],
    )
    def test_invalid_threads(self, local: Cli, empty_url: str, line: str, text: str) -> None:
        error = one_line_error(local("import", "-", "--database-url", empty_url, input=line))
        assert text in error

    def test_a_thread_that_fails_part_way_is_not_left_behind(
        self, local: Cli, empty_url: str
    ) -> None:
        line = json.dumps({"id": "t", "messages": [{"id": "same"}, {"id": "same"}]})
        error = one_line_error(local("import", "-", "--database-url", empty_url, input=line))
        assert "line 1: thread 't'" in error
        assert export_of(local, empty_url) == []

    def test_a_missing_file(self, local: Cli, tmp_path: Path) -> None:
        error = one_line_error(local("import", str(tmp_path / "nothing.jsonl")))
        assert "nothing.jsonl" in error


@pytest.mark.parametrize(
    "backend",
    [
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
    ],
)
def test_the_other_backends_round_trip(
    local: Cli, request: pytest.FixtureRequest, backend: str, empty_url: str, tmp_path: Path
) -> None:
    """The local mode on PostgreSQL and Redis (their stores run on a loop of their own): the
    data commands, and an export into SQLite and back."""
    url = str(request.getfixturevalue(f"{backend}_url"))
    seed(url)
    on_it = {"THREADLOOM_DATABASE_URL": url}
    ok(local("messages", "add", "empty", "hello", env=on_it))
    ok(local("state", "patch", "empty", '{"a": 1}', "--if-match", "0", env=on_it))
    path = tmp_path / "other.jsonl"
    ok(local("export", "-o", str(path), env=on_it))
    ok(local("import", str(path), "--database-url", empty_url))
    original = comparable(json_lines(path.read_text()))
    assert comparable(export_of(local, empty_url)) == original
    ok(local("import", str(path), "--on-conflict", "overwrite", env=on_it))
    assert comparable(export_of(local, url)) == original
