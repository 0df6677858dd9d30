"""Importing the compatibility API has no side effects: no database, no server dependency,
no environment read. Local mode starts on first use, on the server's default database."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import TypedDict

import pytest

HEAVY = (
    "sqlalchemy",
    "alembic",
    "asyncpg",
    "fastapi",
    "starlette",
    "pydantic_settings",
    "threadloom.local",
    "threadloom.config",
    "threadloom.core",
    "threadloom.store",
    "threadloom.server",
)

IMPORT_ONLY = """\
import json, os, sys

read = []

class Spy(type(os.environ)):
    def __getitem__(self, key):
        read.append(key)
        return super().__getitem__(key)

os.environ = Spy(os.environ._data, os.environ.encodekey, os.environ.decodekey,
                 os.environ.encodevalue, os.environ.decodevalue)
import threadloom.threadmem
from threadloom.threadmem import RoleMessage, RoleThread
message = RoleMessage("user", "hello")  # writes nothing either
print(json.dumps({"modules": sorted(sys.modules), "read": read}))
"""

FIRST_USE = """\
import json, sys
from threadloom.threadmem import RoleThread
thread = RoleThread(name="first")
thread.post("user", "hi")
print(json.dumps({"local": "threadloom.local" in sys.modules, "id": thread.id}))
"""


class ImportReport(TypedDict):
    """What IMPORT_ONLY prints."""

    modules: list[str]
    read: list[str]


class FirstUseReport(TypedDict):
    """What FIRST_USE prints."""

    local: bool
    id: str


def _run(code: str, home: Path) -> str:
    """Run ``code`` in a fresh interpreter; return the last line it printed."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("THREADLOOM_", "AGENTSEA_"))
    }
    env["HOME"] = str(home)
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=home,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def _files(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def test_import_has_no_side_effects(tmp_path: Path) -> None:
    result: ImportReport = json.loads(_run(IMPORT_ONLY, tmp_path))
    assert _files(tmp_path) == []
    modules = set(result["modules"])
    loaded = sorted(
        name for name in modules if any(name == h or name.startswith(h + ".") for h in HEAVY)
    )
    assert loaded == []
    assert "threadloom.threadmem" in modules
    read = [key for key in result["read"] if key.startswith(("THREADLOOM_", "AGENTSEA_"))]
    assert read == []


@pytest.mark.server
def test_local_mode_starts_on_first_use_on_the_default_database(tmp_path: Path) -> None:
    result: FirstUseReport = json.loads(_run(FIRST_USE, tmp_path))
    assert result["local"] is True
    database = tmp_path / ".local" / "share" / "threadloom" / "threadloom.db"
    assert database.is_file()
    with sqlite3.connect(database) as conn:
        rows = conn.execute(
            "SELECT t.title, m.content FROM threads t JOIN messages m ON m.thread_pk = t.pk"
            " WHERE t.space_id = 'default' AND t.id = ?",
            (result["id"],),
        ).fetchall()
    assert rows == [("first", "hi")]
