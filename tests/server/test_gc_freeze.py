"""``gc.freeze()`` is process-wide, so ``threadloom serve`` does it, once a worker's app has
started, and ``create_app`` never does: tests and embedding applications call the factory.

The freezing side runs in a fresh process, so that this one's garbage collector is left as
it was."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.databases import make_settings
from threadloom.server.app import create_app

# Prints the freeze count before the lifespan starts and while it runs.
SERVING_APP = """
import asyncio, gc
from threadloom.cli.serve import serving_app

async def main():
    app = serving_app()
    before = gc.get_freeze_count()
    async with app.router.lifespan_context(app):
        print(before, gc.get_freeze_count())

asyncio.run(main())
"""

# Prints what ``threadloom serve`` hands to uvicorn, without starting it.
SERVE_RUNS = """
import sys, uvicorn
uvicorn.run = lambda app, **options: print(app, options["factory"])
from threadloom.cli import main
sys.argv = ["threadloom", "serve", "--port", "0"]
main()
"""


def _python(script: str, database_url: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=cwd,
        env={**os.environ, "THREADLOOM_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.anyio
async def test_create_app_freezes_nothing(sqlite_url: str) -> None:
    settings = make_settings(database_url=sqlite_url, migrate_on_start=False)
    application = create_app(settings)
    before = gc.get_freeze_count()
    async with application.router.lifespan_context(application):
        assert gc.get_freeze_count() == before
    assert gc.get_freeze_count() == before


def test_serving_app_freezes_once_started(sqlite_url: str, tmp_path: Path) -> None:
    before, started = map(int, _python(SERVING_APP, sqlite_url, tmp_path).split())
    assert before == 0
    assert started > 0


def test_serve_runs_the_freezing_app(sqlite_url: str, tmp_path: Path) -> None:
    assert _python(SERVE_RUNS, sqlite_url, tmp_path) == "threadloom.cli.serve:serving_app True"
