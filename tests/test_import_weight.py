"""``import threadloom`` is light: the client side pulls in nothing of the server."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SERVER_MODULES = (
    "fastapi",
    "starlette",
    "sqlalchemy",
    "alembic",
    "asyncpg",
    "uvicorn",
    "threadloom.server",
)

PROBE = """\
import json, sys
import {module}
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after_import(module: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return set(loaded)


def _heavy(loaded: set[str]) -> list[str]:
    return sorted(
        name
        for name in loaded
        if any(name == heavy or name.startswith(heavy + ".") for heavy in SERVER_MODULES)
    )


def test_import_threadloom_pulls_in_no_server_module() -> None:
    loaded = _modules_after_import("threadloom")
    assert "threadloom" in loaded
    assert _heavy(loaded) == []


@pytest.mark.parametrize("module", ["threadloom.models", "threadloom.errors", "threadloom.ids"])
def test_shared_wire_modules_pull_in_no_server_module(module: str) -> None:
    """The modules the client shares with the server stay light too."""
    loaded = _modules_after_import(module)
    assert module in loaded
    assert _heavy(loaded) == []


def test_the_probe_sees_heavy_modules() -> None:
    """The probe itself works: importing the server does show up."""
    loaded = _modules_after_import("threadloom.server.app")
    assert {"fastapi", "starlette", "threadloom.server"} <= set(_heavy(loaded))
