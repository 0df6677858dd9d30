"""The data commands as real ``python -m threadloom`` processes against a live server."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from tests.cli.conftest import Cli, json_lines, ok, one_line_error
from tests.cli.test_transfer import comparable, seed
from tests.fixtures.servers import LiveServer, free_port
from threadloom.store.base import format_ts, utc_now

pytestmark = pytest.mark.server

KEY_PATTERN = re.compile(r"tl_[A-Za-z0-9_-]{43}")


def _key(cli: Cli, database_url: str, *args: str) -> str:
    secret = ok(cli("keys", "create", *args, "--database-url", database_url)).stdout
    key = secret.splitlines()[-1]
    assert KEY_PATTERN.fullmatch(key)
    return key


@pytest.fixture
def server(
    subprocess_cli: Cli, sqlite_url: str, live_servers: Callable[..., LiveServer]
) -> tuple[LiveServer, str]:
    """A live server on a seeded database that needs an API key; its admin key."""
    seed(sqlite_url)
    admin = _key(subprocess_cli, sqlite_url, "--admin")
    return live_servers(sqlite_url, env={"THREADLOOM_KEY_CACHE_SECONDS": "0"}), admin


def test_the_key_and_url_from_the_environment(
    subprocess_cli: Cli, server: tuple[LiveServer, str], tmp_path: Path
) -> None:
    live, admin = server
    # No database at all on this side: everything goes over HTTP.
    env = {
        "THREADLOOM_URL": live.url,
        "THREADLOOM_API_KEY": admin,
        "THREADLOOM_DATABASE_URL": f"sqlite:///{tmp_path / 'never-created.db'}",
    }
    cli = Cli("subprocess", subprocess_cli.cwd, env)

    page = json.loads(ok(cli("threads", "ls", "--status", "all", "--json")).stdout)
    assert {thread["id"] for thread in page["data"]} == {"rich", "long", "empty", "old"}
    ok(cli("threads", "create", "--id", "new", "--title", "Over HTTP"))
    added = json.loads(ok(cli("messages", "add", "new", "-", "--json", input="hello")).stdout)
    assert added["content"] == "hello"
    ok(cli("state", "set", "new", '{"a": 1}', "--if-match", "0"))
    state = json.loads(ok(cli("state", "patch", "new", '{"b": 2}', "--json")).stdout)
    assert state["state"] == {"a": 1, "b": 2}
    stale = one_line_error(cli("state", "set", "new", "{}", "--if-match", "1"))
    assert "version 2" in stale
    every = json_lines(
        ok(cli("messages", "ls", "long", "--all", "--limit", "100", "--json")).stdout
    )
    assert len(every) == 250
    assert "archived new" in ok(cli("threads", "archive", "new")).stdout
    ok(cli("threads", "purge", "new"))
    assert "'new'" in one_line_error(cli("threads", "show", "new"))
    keys = json.loads(ok(cli("keys", "list", "--json")).stdout)
    assert len(keys) == 1
    ok(cli("spaces", "create", "acme"))
    assert "acme" in ok(cli("spaces", "ls")).stdout
    assert not (tmp_path / "never-created.db").exists()


def test_export_over_http_then_import_into_an_empty_database(
    subprocess_cli: Cli,
    server: tuple[LiveServer, str],
    sqlite_url: str,
    sqlite_template: Path,
    tmp_path: Path,
) -> None:
    live, admin = server
    exported = tmp_path / "over-http.jsonl"
    ok(subprocess_cli("export", "-o", str(exported), "--url", live.url, "--api-key", admin))
    target = tmp_path / "target.db"
    shutil.copy(sqlite_template, target)
    target_url = f"sqlite:///{target}"
    ok(subprocess_cli("import", str(exported), "--database-url", target_url))

    def export_of(url: str) -> list[dict[str, object]]:
        return json_lines(ok(subprocess_cli("export", "--database-url", url)).stdout)

    assert comparable(export_of(target_url)) == comparable(export_of(sqlite_url))
    assert comparable(json_lines(exported.read_text())) == comparable(export_of(sqlite_url))


def test_import_over_http_with_each_conflict_mode(
    subprocess_cli: Cli, server: tuple[LiveServer, str], tmp_path: Path
) -> None:
    live, admin = server
    cli = Cli(
        "subprocess", subprocess_cli.cwd, {"THREADLOOM_URL": live.url, "THREADLOOM_API_KEY": admin}
    )
    exported = tmp_path / "export.jsonl"
    ok(cli("export", "-o", str(exported)))
    before = comparable(json_lines(exported.read_text()))
    ok(cli("state", "set", "rich", '"changed"'))

    skipped = json.loads(ok(cli("import", str(exported), "--json")).stdout)
    assert skipped["skipped"] == 4
    line = one_line_error(cli("import", str(exported), "--on-conflict", "fail"))
    assert "'rich'" in line
    replaced = json.loads(
        ok(cli("import", str(exported), "--on-conflict", "overwrite", "--json")).stdout
    )
    assert replaced["replaced"] == 4
    assert comparable(json_lines(ok(cli("export")).stdout)) == before


def test_import_over_http_keeps_each_expiry(
    subprocess_cli: Cli, server: tuple[LiveServer, str], tmp_path: Path
) -> None:
    """Threads recreated through a server expire at their original instant; one whose
    expiry has passed is counted, not sent."""
    live, admin = server
    cli = Cli(
        "subprocess", subprocess_cli.cwd, {"THREADLOOM_URL": live.url, "THREADLOOM_API_KEY": admin}
    )
    exported = tmp_path / "export.jsonl"
    ok(cli("export", "-o", str(exported)))
    original = {line["id"]: line["expires_at"] for line in json_lines(exported.read_text())}
    assert original["rich"] is not None
    ok(cli("threads", "purge", "rich"))
    counts = json.loads(ok(cli("import", str(exported), "--json")).stdout)
    assert (counts["imported"], counts["skipped"], counts["expired"]) == (1, 3, 0)
    again = {line["id"]: line["expires_at"] for line in json_lines(ok(cli("export")).stdout)}
    assert again == original

    ok(cli("threads", "purge", "rich"))
    (rich,) = [line for line in json_lines(exported.read_text()) if line["id"] == "rich"]
    rich["expires_at"] = format_ts(utc_now() - timedelta(seconds=1))
    stale = json.loads(ok(cli("import", "-", "--json", input=json.dumps(rich))).stdout)
    assert (stale["imported"], stale["expired"]) == (0, 1)
    assert "'rich'" in one_line_error(cli("threads", "show", "rich"))


def test_a_reader_key_exports_without_private_messages(
    subprocess_cli: Cli, server: tuple[LiveServer, str], sqlite_url: str
) -> None:
    live, _ = server
    reader = _key(subprocess_cli, sqlite_url, "--space", "default", "--role", "reader")
    cli = Cli(
        "subprocess", subprocess_cli.cwd, {"THREADLOOM_URL": live.url, "THREADLOOM_API_KEY": reader}
    )
    assert "private" in one_line_error(cli("export"))
    lines = json_lines(ok(cli("export", "--no-private")).stdout)
    assert all(not m["private"] for line in lines for m in line["messages"])
    assert "read-only" in one_line_error(cli("threads", "create"))


def test_a_bad_or_missing_key_is_one_line_and_exit_1(
    subprocess_cli: Cli, server: tuple[LiveServer, str]
) -> None:
    live, _ = server
    bad = {"THREADLOOM_URL": live.url, "THREADLOOM_API_KEY": "tl_" + "x" * 43}
    for args in (("threads", "ls"), ("export",), ("keys", "list", "--json")):
        done = subprocess_cli(*args, env=bad)
        assert "unknown or revoked" in one_line_error(done)
        assert done.stdout == ""
    missing = subprocess_cli("threads", "ls", "--url", live.url)
    assert "send an API key" in one_line_error(missing)
    given = subprocess_cli("threads", "ls", "--url", live.url, "--api-key", "tl_nope")
    assert "unknown or revoked" in one_line_error(given)


def test_an_unreachable_server_is_one_line(subprocess_cli: Cli) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    line = one_line_error(subprocess_cli("threads", "ls", "--url", url))
    assert "ConnectError" in line
