"""The installed command as a real process, once per kind of command: the rest of the
command-line tests run in process (the same entry point, through typer's runner), so these
keep what only a process shows: the ``python -m threadloom`` entry, exit codes, stdin and
stdout as pipes, and the environment it reads."""

from __future__ import annotations

import json

from tests.cli.conftest import Cli, json_lines, ok, one_line_error


def test_a_session_of_data_commands_on_a_database(subprocess_cli: Cli, sqlite_url: str) -> None:
    def run(*args: str, input: str | None = None) -> str:
        return ok(subprocess_cli(*args, database_url=sqlite_url, input=input)).stdout

    ok(subprocess_cli("migrate", "--database-url", sqlite_url))
    created = json.loads(run("threads", "create", "smoke", "--title", "Smoke", "--json"))
    assert (created["id"], created["title"]) == ("smoke", "Smoke")
    run("messages", "add", "smoke", "-", input="from stdin")
    run("messages", "add", "smoke", "second", "--role", "assistant")
    listed = json_lines(run("messages", "ls", "smoke", "--all", "--json"))
    assert [(m["role"], m["content"]) for m in listed] == [
        ("user", "from stdin"),
        ("assistant", "second"),
    ]
    run("state", "set", "smoke", '{"step": 1}')
    assert json.loads(run("state", "get", "smoke")) == {"step": 1}
    exported = run("export", "--quiet")
    assert [line["id"] for line in json_lines(exported)] == ["smoke"]
    key = run("keys", "create", "--admin").splitlines()[-1]
    assert key.startswith("tl_")
    assert "smoke" in run("threads", "ls")


def test_a_failure_is_one_line_and_exit_code_one(subprocess_cli: Cli, sqlite_url: str) -> None:
    missing = subprocess_cli("threads", "show", "nowhere", database_url=sqlite_url)
    assert "nowhere" in one_line_error(missing)
    usage = subprocess_cli("threads", "ls", "--limit", "0", database_url=sqlite_url)
    assert usage.code == 2
    assert "Traceback" not in usage.stderr
