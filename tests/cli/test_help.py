"""``--help`` reads as documentation, and the command line stays light to start."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.cli.conftest import Cli, ok

GROUPS = {
    "spaces": ("ls", "create", "rm"),
    "threads": ("ls", "show", "create", "archive", "restore", "purge"),
    "messages": ("ls", "add"),
    "state": ("get", "set", "patch"),
    "keys": ("create", "list", "revoke"),
}
TOP_LEVEL = ("serve", "migrate", "export", "import")
COMMANDS = [(name,) for name in TOP_LEVEL] + [
    (group, command) for group, names in GROUPS.items() for command in names
]
SERVER_MODULES = ("fastapi", "starlette", "sqlalchemy", "alembic", "asyncpg", "uvicorn")


def test_the_root_lists_every_command(local: Cli) -> None:
    done = ok(local("--help"))
    for name in (*TOP_LEVEL, *GROUPS):
        assert name in done.stdout
    assert "THREADLOOM_URL" in done.stdout


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_a_group_lists_its_commands(local: Cli, group: str) -> None:
    done = ok(local(group, "--help"))
    for command in GROUPS[group]:
        assert command in done.stdout
    bare = local(group)  # a bare group shows its help too
    assert GROUPS[group][0] in bare.stdout + bare.stderr
    assert bare.clean_failure or bare.code == 0


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_a_description_options_and_examples(
    local: Cli, command: tuple[str, ...]
) -> None:
    text = ok(local(*command, "--help")).stdout
    assert "Examples" in text
    assert f"threadloom {' '.join(command)}" in text
    if command not in (("serve",), ("migrate",)):
        for option in ("--url", "--api-key", "--database-url"):
            assert option in text


def test_importing_the_command_line_loads_no_server_module() -> None:
    probe = "import json, sys, threadloom.cli.root; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = json.loads(done.stdout)
    heavy = [m for m in loaded if m.split(".")[0] in SERVER_MODULES]
    assert heavy == []
    assert not any(m.startswith(("threadloom.server", "threadloom.store")) for m in loaded)
