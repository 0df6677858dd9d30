"""The deployment files: Dockerfile, entrypoint.sh, docker-compose.yml and .dockerignore.

No container engine is needed: the files are checked as text and YAML, and entrypoint.sh
runs for real (against a stand-in ``threadloom`` to check its arguments, and against the
real one to serve on loopback)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
ENTRYPOINT = ROOT / "entrypoint.sh"
BIN = Path(sys.executable).parent


def _instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", dockerfile)
    result = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, args = line.partition(" ")
            result.append((instruction.upper(), args.strip()))
    return result


class TestDockerfile:
    instructions = _instructions((ROOT / "Dockerfile").read_text())

    def args(self, instruction: str) -> list[str]:
        return [args for name, args in self.instructions if name == instruction]

    def test_a_slim_python_base(self) -> None:
        bases = self.args("FROM")
        assert bases
        assert all(re.match(r"python:3\.1[1-9]-slim\b", base) for base in bases), bases

    def test_runs_as_a_user_that_is_not_root(self) -> None:
        users = self.args("USER")
        assert users, "no USER: the container would run as root"
        assert users[-1].split(":")[0] not in ("root", "0")
        final_stage = [name for name, _ in self.instructions]
        last_from = len(final_stage) - 1 - final_stage[::-1].index("FROM")
        assert "USER" in final_stage[last_from:]

    def test_installs_the_server_extras(self) -> None:
        installs = " ".join(args for args in self.args("RUN") if "pip install" in args)
        extras = re.search(r"\.\[([a-z,]+)\]", installs)
        assert extras is not None, installs
        assert {"server", "postgres", "redis", "openai"} <= set(extras.group(1).split(","))

    def test_exposes_checks_health_and_enters_through_the_script(self) -> None:
        assert self.args("EXPOSE") == ["8000"]
        (healthcheck,) = self.args("HEALTHCHECK")
        assert "/healthz" in healthcheck
        assert "python -c" in healthcheck
        assert "curl" not in healthcheck
        assert self.args("ENTRYPOINT") == ['["/app/entrypoint.sh"]']
        assert any("entrypoint.sh" in args for args in self.args("COPY"))

    def test_the_healthcheck_command_is_valid_python(self) -> None:
        (healthcheck,) = self.args("HEALTHCHECK")
        code = re.search(r'python -c "(.*)"', healthcheck)
        assert code is not None
        compile(code.group(1), "<healthcheck>", "exec")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml")
    parsed: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return parsed


class TestCompose:
    def test_services_and_images(self, compose: dict[str, Any]) -> None:
        services = compose["services"]
        assert set(services) >= {"threadloom", "postgres", "redis"}
        assert services["postgres"]["image"] == "postgres:16"
        assert services["redis"]["image"] == "redis:7"
        assert services["threadloom"]["build"] == "."

    def test_named_volumes_and_health_checks(self, compose: dict[str, Any]) -> None:
        declared = set(compose["volumes"])
        for name in ("postgres", "redis"):
            service = compose["services"][name]
            assert service["healthcheck"]["test"]
            mounted = {volume.split(":")[0] for volume in service["volumes"]}
            assert mounted & declared, (name, mounted)

    def test_the_server_waits_for_healthy_services(self, compose: dict[str, Any]) -> None:
        depends = compose["services"]["threadloom"]["depends_on"]
        assert depends == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }

    def test_the_server_points_at_postgres_and_redis(self, compose: dict[str, Any]) -> None:
        env = compose["services"]["threadloom"]["environment"]
        assert re.fullmatch(
            r"postgresql://threadloom:.+@postgres:5432/threadloom", env["THREADLOOM_DATABASE_URL"]
        )
        assert env["THREADLOOM_REDIS_URL"].startswith("redis://redis:6379")
        assert "8000:8000" in compose["services"]["threadloom"]["ports"]


def test_dockerignore_keeps_what_the_build_needs() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", "tests", ".env"} <= ignored
    for needed in ("src", "pyproject.toml", "README.md", "entrypoint.sh"):
        assert needed not in ignored


# entrypoint.sh -------------------------------------------------------------------------------


def test_the_entrypoint_is_an_executable_strict_bash_script() -> None:
    assert os.access(ENTRYPOINT, os.X_OK)
    text = ENTRYPOINT.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    done = subprocess.run(["bash", "-n", str(ENTRYPOINT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.fixture
def fake_threadloom(tmp_path: Path) -> Path:
    """A ``threadloom`` that records its arguments and the host it was given, one JSON line
    a call."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "calls.jsonl"
    script = bin_dir / "threadloom"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"with open({str(record)!r}, 'a') as f:\n"
        "    f.write(json.dumps({'args': sys.argv[1:], "
        "'host': os.environ.get('THREADLOOM_HOST'), "
        "'port': os.environ.get('THREADLOOM_PORT')}) + '\\n')\n"
    )
    script.chmod(0o755)
    return record


def _run_entrypoint(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ENTRYPOINT), *args], env=env, capture_output=True, text=True, timeout=60
    )


def _calls(record: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in record.read_text().splitlines()]


def _fake_env(record: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREADLOOM_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env["PATH"] = f"{record.parent / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return {**env, **extra}


class TestEntrypointArguments:
    def test_migrates_then_serves_on_all_interfaces_by_default(self, fake_threadloom: Path) -> None:
        done = _run_entrypoint("--workers", "2", env=_fake_env(fake_threadloom))
        assert done.returncode == 0, done.stderr
        assert _calls(fake_threadloom) == [
            {"args": ["migrate"], "host": "0.0.0.0", "port": "8000"},
            {"args": ["serve", "--workers", "2"], "host": "0.0.0.0", "port": "8000"},
        ]

    def test_honours_host_port_and_insecure_from_the_environment(
        self, fake_threadloom: Path, tmp_path: Path
    ) -> None:
        metrics_dir = tmp_path / "metrics" / "dir"
        env = _fake_env(
            fake_threadloom,
            THREADLOOM_HOST="127.0.0.1",
            THREADLOOM_PORT="9123",
            THREADLOOM_INSECURE="true",
            PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        )
        done = _run_entrypoint(env=env)
        assert done.returncode == 0, done.stderr
        serve = _calls(fake_threadloom)[-1]
        assert serve == {"args": ["serve", "--insecure"], "host": "127.0.0.1", "port": "9123"}
        assert metrics_dir.is_dir()

    def test_runs_another_command_instead(self, fake_threadloom: Path) -> None:
        env = _fake_env(fake_threadloom)
        done = _run_entrypoint("threadloom", "keys", "create", "--admin", env=env)
        assert done.returncode == 0, done.stderr
        assert [call["args"] for call in _calls(fake_threadloom)] == [["keys", "create", "--admin"]]

    def test_a_failed_migration_stops_it(self, fake_threadloom: Path) -> None:
        failing = fake_threadloom.parent / "bin" / "threadloom"
        failing.write_text('#!/bin/sh\necho "$@" >> ' + str(fake_threadloom) + "\nexit 3\n")
        done = _run_entrypoint(env=_fake_env(fake_threadloom))
        assert done.returncode == 3
        assert fake_threadloom.read_text().splitlines() == ["migrate"]


def _real_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREADLOOM_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["THREADLOOM_DATABASE_URL"] = database_url
    return {**env, **extra}


@pytest.fixture
def real_threadloom() -> None:
    if shutil.which("threadloom", path=str(BIN)) is None:
        pytest.skip(f"no threadloom command next to {sys.executable}")


@pytest.mark.server
@pytest.mark.usefixtures("real_threadloom")
def test_the_entrypoint_serves_for_real(tmp_path: Path) -> None:
    port = free_port()
    database = tmp_path / "data" / "threadloom.db"
    env = _real_env(f"sqlite:///{database}", THREADLOOM_HOST="127.0.0.1", THREADLOOM_PORT=str(port))
    log_path = tmp_path / "entrypoint.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [str(ENTRYPOINT), "--log-format", "json"],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log_path.read_text(errors="replace")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log_path.read_text(errors="replace")
            time.sleep(0.2)
        response = httpx.post(
            f"http://127.0.0.1:{port}/v1/spaces/default/threads", json={"id": "docker"}
        )
        assert response.status_code == 201, response.text
    finally:
        # The script exec'd the server, so this is the server's own process.
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    log = log_path.read_text(errors="replace")
    assert "the database is up to date" in log
    assert database.exists()
    # The extra argument reached `threadloom serve`: its log lines are JSON.
    lines = [line for line in log.splitlines() if line.startswith("{")]
    assert any(json.loads(line)["message"] == "Application startup complete." for line in lines)


@pytest.mark.usefixtures("real_threadloom")
def test_the_entrypoint_refuses_all_interfaces_without_a_key(tmp_path: Path) -> None:
    env = _real_env(f"sqlite:///{tmp_path / 'threadloom.db'}", THREADLOOM_PORT=str(free_port()))
    done = _run_entrypoint(env=env)
    assert done.returncode != 0
    assert "no API key" in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr
