"""The command line's test harness: ``threadloom ARGS`` in process (typer's CliRunner) or as
a real ``python -m threadloom`` process, with none of the developer's ``THREADLOOM_*``
variables (but the test's own Redis key prefix), and what it printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from threadloom.cli import app

WIDE = "250"  # wide enough that tables are never cut
KEPT = frozenset({"THREADLOOM_REDIS_PREFIX"})  # set by the redis_url fixture for this test


def _foreign(name: str) -> bool:
    """A variable of the developer's that the command must not see."""
    return name.startswith("THREADLOOM_") and name not in KEPT


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str

    @property
    def clean_failure(self) -> bool:
        """A non-zero exit with no traceback anywhere."""
        return self.code != 0 and "Traceback" not in self.stderr and "Traceback" not in self.stdout


class Cli:
    """Runs ``threadloom ARGS`` either in process or as ``python -m threadloom``."""

    def __init__(self, mode: str, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.mode = mode
        self.cwd = cwd
        self.env = env or {}

    def __call__(
        self,
        *args: str,
        database_url: str | None = None,
        env: dict[str, str] | None = None,
        columns: str | None = WIDE,
        input: str | None = None,
    ) -> Outcome:
        extra = {**self.env, **(env or {})}
        if database_url is not None:
            extra["THREADLOOM_DATABASE_URL"] = database_url
        if self.mode == "in-process":
            return self._in_process(list(args), extra, columns, input)
        return self._subprocess(list(args), extra, columns, input)

    def _in_process(
        self, args: list[str], extra: dict[str, str], columns: str | None, input: str | None
    ) -> Outcome:
        unset: dict[str, str | None] = {name: None for name in os.environ if _foreign(name)}
        unset["COLUMNS"] = columns
        unset["LINES"] = None
        result = CliRunner().invoke(app, args, env={**unset, **extra}, input=input)
        stderr = result.stderr
        if result.exc_info is not None and not isinstance(result.exception, SystemExit):
            stderr += "".join(traceback.format_exception(*result.exc_info))
        return Outcome(result.exit_code, result.stdout, stderr)

    def _subprocess(
        self, args: list[str], extra: dict[str, str], columns: str | None, input: str | None
    ) -> Outcome:
        env = {
            name: value
            for name, value in os.environ.items()
            if not _foreign(name) and name not in ("COLUMNS", "LINES")
        }
        if columns is not None:
            env["COLUMNS"] = columns
        env.update(extra)
        done = subprocess.run(
            [sys.executable, "-m", "threadloom", *args],
            capture_output=True,
            text=True,
            input=input,
            timeout=90,
            env=env,
            cwd=self.cwd,
            check=False,
        )
        return Outcome(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """In process: typer's runner calls the same entry point a process would. What only a
    real process shows (exit codes through the shell, piped output, signals, the installed
    entry point) is tested with ``subprocess_cli``."""
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)  # no stray .env is read
    return Cli("in-process", workdir)


@pytest.fixture
def subprocess_cli(tmp_path: Path) -> Cli:
    workdir = tmp_path / "cwd-sub"
    workdir.mkdir()
    return Cli("subprocess", workdir)


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> Cli:
    """In process, on a fresh SQLite database (``THREADLOOM_DATABASE_URL``)."""
    workdir = tmp_path / "cwd-local"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    return Cli("in-process", workdir, {"THREADLOOM_DATABASE_URL": sqlite_url})


def ok(done: Outcome) -> Outcome:
    """``done``, after checking that it succeeded."""
    assert done.code == 0, f"exit {done.code}\n{done.stdout}\n{done.stderr}"
    return done


def one_line_error(done: Outcome, code: int = 1) -> str:
    """The error line of a failed run, after checking it is one clean line."""
    assert done.code == code, f"exit {done.code}\n{done.stdout}\n{done.stderr}"
    assert done.clean_failure, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: "), done.stderr
    return lines[0]


def json_lines(text: str) -> list[Any]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]
