"""On a client-only install (``pip install threadloom``), what needs the ``server`` extra
says so: the ``threadloom`` command exits 1 with one line naming the extra, the RoleThread
local mode raises ``MissingExtra`` (an ImportError). Each case runs in a fresh Python
process whose imports of the extra's modules fail as they would where it is not installed
(a ``sitecustomize`` on ``PYTHONPATH`` blocks them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from threadloom.errors import MissingExtra
from threadloom.extras import EXTRA_OF_MODULE, install_command, requires_extra

SERVER_MODULES = sorted(name for name, extra in EXTRA_OF_MODULE.items() if extra == "server")
INSTALL = "pip install 'threadloom[server]'"

BLOCKER = """\
import importlib.abc
import os
import sys

BLOCKED = set(os.environ["BLOCKED_MODULES"].split(","))


class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


sys.meta_path.insert(0, Blocker())
"""

# The console script pip writes for the declared entry point, found through the package's
# metadata (as pip does), so that the test runs what a user runs.
ENTRY_POINT = """\
import sys
from importlib.metadata import entry_points

[script] = entry_points(group="console_scripts", name="threadloom")
sys.argv[0] = "threadloom"
sys.exit(script.load()())
"""


def _run(tmp_path: Path, blocked: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    prelude = tmp_path / "blocker"
    prelude.mkdir(exist_ok=True)
    (prelude / "sitecustomize.py").write_text(BLOCKER)
    env = {name: value for name, value in os.environ.items() if not name.startswith("THREADLOOM_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(prelude), env.get("PYTHONPATH")]))
    env["BLOCKED_MODULES"] = ",".join(blocked)
    env["THREADLOOM_DATABASE_URL"] = f"sqlite:///{tmp_path / 'never.db'}"
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
        env=env,
    )


@pytest.mark.parametrize("extra", sorted(set(EXTRA_OF_MODULE.values())))
def test_every_message_spells_the_install_command_alike(extra: str) -> None:
    missing = MissingExtra("a feature", extra, "a_module")
    assert str(missing).endswith(f"is not installed): {install_command(extra)}")
    assert install_command("server") == INSTALL


@pytest.mark.parametrize(
    "blocked", [SERVER_MODULES, ["typer"], ["pydantic_settings"]], ids=["server", "typer", "ps"]
)
@pytest.mark.parametrize("how", ["entry-point", "python -m"])
def test_the_command_names_the_extra_to_install(
    tmp_path: Path, blocked: list[str], how: str
) -> None:
    command = ["-c", ENTRY_POINT] if how == "entry-point" else ["-m", "threadloom"]
    done = _run(tmp_path, blocked, *command, "threads", "ls")
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    [line] = done.stderr.splitlines()
    assert line.startswith("error: the command line needs the server extra (")
    assert line.endswith(f"is not installed): {INSTALL}")
    missing = line.split("(", 1)[1].split(" ", 1)[0]
    assert missing in blocked
    assert not (tmp_path / "never.db").exists()


def test_the_blocker_blocks_and_the_command_runs_without_it(tmp_path: Path) -> None:
    """The harness itself: with nothing blocked the same command works, and a blocked
    module cannot be imported."""
    done = _run(tmp_path, ["nothing"], "-c", ENTRY_POINT, "threads", "ls", "--json")
    assert done.returncode == 0, done.stderr
    assert '"object": "list"' in done.stdout or '"object":"list"' in done.stdout
    probe = _run(tmp_path, ["typer"], "-c", "import typer")
    assert probe.returncode == 1
    assert "ModuleNotFoundError" in probe.stderr


LOCAL_MODE = """\
from threadloom.threadmem import RoleThread

try:
    RoleThread(name="support")
except ImportError as exc:
    from threadloom.errors import MissingExtra

    print(type(exc).__name__, isinstance(exc, MissingExtra), exc.name)
    print(exc)
"""


@pytest.mark.parametrize("blocked", [SERVER_MODULES, ["pydantic_settings"], ["sqlalchemy"]])
def test_the_local_mode_raises_missing_extra(tmp_path: Path, blocked: list[str]) -> None:
    done = _run(tmp_path, blocked, "-c", LOCAL_MODE)
    assert done.returncode == 0, done.stderr
    kind, message = done.stdout.splitlines()
    name, is_missing_extra, module = kind.split()
    assert (name, is_missing_extra) == ("MissingExtra", "True")
    assert module in blocked
    assert message == (
        f"the RoleThread local mode needs the server extra ({module} is not installed): {INSTALL}"
    )


def test_uncaught_the_local_mode_error_is_one_clear_line(tmp_path: Path) -> None:
    script = "from threadloom.threadmem import RoleThread\nRoleThread(name='support')\n"
    done = _run(tmp_path, SERVER_MODULES, "-c", script)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("threadloom.errors.MissingExtra: the RoleThread local mode needs")
    assert last.endswith(INSTALL)
    # Raised from the RoleThread API, not from deep inside an import of the server's code.
    assert "During handling" not in done.stderr
    assert "direct cause" not in done.stderr
    assert "threadloom/config.py" not in done.stderr


def test_a_remote_role_thread_needs_no_extra(tmp_path: Path) -> None:
    """The client side stays usable: a remote RoleThread reaches for no server module (the
    server is absent, so the call fails on the network, not on an import)."""
    script = (
        "from threadloom.threadmem import RoleThread\n"
        "from threadloom.errors import TransportError\n"
        "try:\n"
        "    RoleThread(name='x', remote='http://127.0.0.1:9')\n"
        "except TransportError:\n"
        "    print('transport')\n"
    )
    done = _run(tmp_path, SERVER_MODULES, "-c", script)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "transport"


def test_requires_extra_names_the_extra_of_the_missing_module() -> None:
    with pytest.raises(MissingExtra) as caught, requires_extra("the Redis store"):
        raise ModuleNotFoundError("No module named 'redis.asyncio'", name="redis.asyncio")
    assert str(caught.value) == (
        "the Redis store needs the redis extra (redis is not installed): "
        "pip install 'threadloom[redis]'"
    )
    assert isinstance(caught.value, ImportError)
    assert (caught.value.name, caught.value.extra) == ("redis", "redis")


def test_requires_extra_leaves_other_import_errors_alone() -> None:
    with pytest.raises(ModuleNotFoundError) as caught, requires_extra("anything"):
        raise ModuleNotFoundError("No module named 'threadloom.nope'", name="threadloom.nope")
    assert not isinstance(caught.value, MissingExtra)
