"""``scripts/serve`` and ``scripts/test``, run for real on a copy of the scripts whose
``.venv`` holds stand-ins: its ``python`` (pip), ``threadloom``, ``ruff``, ``mypy`` and
``pytest`` only write down how they were called, so nothing is installed or downloaded.

What is checked: what each script installs (``serve`` brings everything the README's
features need, the openai SDK included), that an install happens once per list of extras until
``pyproject.toml`` changes, that the install says where the ``threadloom`` command is, and
which commands each script then runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVE_EXTRAS = "server,openai,postgres,redis"
STAND_IN = '#!/usr/bin/env bash\nprintf "%s\\n" "$(basename "$0") $*" >> "$CALLS"\n'


class Tree:
    """A copy of the scripts and pyproject.toml, and a ``.venv`` of stand-ins."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.calls = root / "calls.txt"
        (root / "scripts").mkdir()
        for name in ("_venv", "serve", "test"):
            shutil.copy2(ROOT / "scripts" / name, root / "scripts" / name)
        shutil.copy2(ROOT / "pyproject.toml", root / "pyproject.toml")
        bin_dir = root / ".venv" / "bin"
        bin_dir.mkdir(parents=True)
        for tool in ("python", "threadloom", "ruff", "mypy", "pytest"):
            (bin_dir / tool).write_text(STAND_IN)
            (bin_dir / tool).chmod(0o755)

    def run(self, script: str, *args: str) -> tuple[list[str], str]:
        """Runs ``scripts/SCRIPT ARGS``: the calls it made, and what it wrote on stderr."""
        self.calls.write_text("")
        env = {**os.environ, "CALLS": str(self.calls)}
        done = subprocess.run(
            [str(self.root / "scripts" / script), *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            cwd=self.root,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return self.calls.read_text().splitlines(), done.stderr

    def install(self, extras: str) -> str:
        return f"python -m pip install --quiet -e {self.root}[{extras}]"


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return Tree(tmp_path)


def test_serve_installs_every_documented_feature_then_serves(tree: Tree) -> None:
    calls, stderr = tree.run("serve", "--port", "9000")
    assert calls == [tree.install(SERVE_EXTRAS), "threadloom serve --port 9000"]
    # The extras exist: pip would warn about an unknown one, and install nothing for it.
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert set(SERVE_EXTRAS.split(",")) <= set(declared["optional-dependencies"])
    # The install says where the command is: it is not on the PATH.
    venv = tree.root / ".venv"
    assert f"run {venv}/bin/threadloom, or `source {venv}/bin/activate`" in stderr


def test_an_install_happens_once_until_pyproject_changes(tree: Tree) -> None:
    tree.run("serve")
    calls, stderr = tree.run("serve")
    assert calls == ["threadloom serve"]
    assert stderr == ""
    later = time.time() + 10
    os.utime(tree.root / "pyproject.toml", (later, later))
    calls, _ = tree.run("serve")
    assert calls == [tree.install(SERVE_EXTRAS), "threadloom serve"]


def test_each_list_of_extras_is_installed_once(tree: Tree) -> None:
    first, _ = tree.run("test", "-k", "state")
    assert first == [
        tree.install("test"),
        "ruff check src tests bench",
        "ruff format --check src tests bench",
        "mypy ",
        "pytest -k state",
    ]
    # Another list of extras is another install, even though pyproject.toml is unchanged.
    served, _ = tree.run("serve")
    assert served == [tree.install(SERVE_EXTRAS), "threadloom serve"]
    again, _ = tree.run("test")
    assert again[0] == "ruff check src tests bench"
    # The whole suite runs on every core, with the coverage report and its gate.
    assert again[-1] == "pytest -n auto --dist worksteal --cov --cov-report=term:skip-covered"
