"""Fixtures of the designs' examples: one real ``threadloom serve`` per backend and module,
on a database of the module's own, and the two ways an example is run as written.

- ``run_curl``: a design's curl command through a real shell, with only the host and the
  placeholders replaced; ``--silent --show-error --include --max-time 30`` are put after
  ``curl`` to read the answer (they change nothing in the request).
- ``run_snippet``: a design's Python snippet in a fresh interpreter, with only the host
  replaced; it answers what the snippet printed.

Each test makes ids of its own, so the tests of a module share its server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.fixtures.databases import (
    POSTGRES,
    REDIS,
    REDIS_DEFAULT_URL,
    REDIS_ENV,
    delete_redis_prefix,
    empty_postgres_database,
)
from tests.fixtures.servers import LiveServer, start_server, stop_server
from tests.fixtures.services import service_missing
from threadloom.store.migrate import migrate

SQL_BACKENDS = ["sqlite", POSTGRES]
ALL_BACKENDS = ["sqlite", POSTGRES, REDIS]
OBSERVE = "curl --silent --show-error --include --max-time 30 "


@dataclass(frozen=True)
class SeedServer:
    """A live server, the database it serves and the environment it was started with."""

    live: LiveServer
    database_url: str
    env: dict[str, str]

    @property
    def url(self) -> str:
        return self.live.url


@contextmanager
def module_database(backend: str, directory: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A database of its own for one module (URL, and the settings that go with it),
    removed afterwards."""
    if backend == "sqlite":
        url = f"sqlite:///{directory / 'seeds.db'}"
        migrate(url)
        yield url, {}
    elif backend == "postgres":
        with empty_postgres_database("threadloom_seeds") as url:
            migrate(url)
            yield url, {}
    else:
        url = os.environ.get(REDIS_ENV) or REDIS_DEFAULT_URL
        prefix = f"threadloom-seeds-{uuid.uuid4().hex[:16]}"
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=10)
        try:
            client.ping()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            client.close()
            service_missing(f"Redis at {REDIS_ENV} is unreachable: {exc}")
        try:
            yield url, {"THREADLOOM_REDIS_PREFIX": prefix}
        finally:
            delete_redis_prefix(client, prefix)
            client.close()


@contextmanager
def serve(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    env: Mapping[str, str] | None = None,
) -> Iterator[SeedServer]:
    """``threadloom serve`` on a new database of the backend ``request.param`` names."""
    directory = tmp_path_factory.mktemp(f"seeds-{request.param}")
    with module_database(str(request.param), directory) as (url, backend_env):
        full_env = {**backend_env, **(env or {})}
        live = start_server(url, directory, env=full_env)
        try:
            yield SeedServer(live, url, full_env)
        finally:
            stop_server(live)


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without threadloom's settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREADLOOM_")}
    env.update(extra or {})
    return env


# Running the examples ----------------------------------------------------------------------


@dataclass(frozen=True)
class CurlAnswer:
    status: int
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


def fill(example: str, replacements: Mapping[str, str]) -> str:
    """``example`` with each placeholder replaced; every placeholder must be in it."""
    for placeholder, value in replacements.items():
        assert placeholder in example, f"{placeholder!r} is not in the example"
        example = example.replace(placeholder, value)
    return example


def run_curl(command: str, replacements: Mapping[str, str]) -> CurlAnswer:
    """Runs a design's curl ``command`` (with ``replacements``) in bash; the final answer."""
    assert command.startswith("curl "), command
    script = OBSERVE + fill(command, replacements).removeprefix("curl ")
    done = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    head, _, body = done.stdout.replace("\r\n", "\n").partition("\n\n")
    status_line, *header_lines = head.splitlines()
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return CurlAnswer(int(status_line.split()[1]), headers, body)


def run_snippet(
    snippet: str, replacements: Mapping[str, str], env: Mapping[str, str] | None = None
) -> list[str]:
    """Runs a design's Python ``snippet`` (with ``replacements``) in a new interpreter; the
    lines it printed."""
    done = subprocess.run(
        [sys.executable, "-c", fill(snippet, replacements)],
        capture_output=True,
        text=True,
        timeout=60,
        env=child_env(env),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


# Checking the documented shapes ------------------------------------------------------------


def assert_shape(value: Any, shape: Any, where: str = "body") -> None:
    """``value`` has the shape of a design's documented example ``shape``: an object has at
    least its keys (threadloom may add more), a list ending in ``...`` holds items of its
    first item's shape, and a string stands for any string."""
    if isinstance(shape, dict):
        assert isinstance(value, dict), f"{where}: {value!r} is not an object"
        missing = set(shape) - set(value)
        assert not missing, f"{where}: {sorted(missing)} missing from {value!r}"
        for key, item in shape.items():
            assert_shape(value[key], item, f"{where}.{key}")
    elif isinstance(shape, list):
        assert isinstance(value, list), f"{where}: {value!r} is not a list"
        items = [item for item in shape if item is not Ellipsis]
        if Ellipsis in shape:
            for index, item in enumerate(value):
                assert_shape(item, items[0], f"{where}[{index}]")
        else:
            assert len(value) == len(items), f"{where}: {value!r}"
            for index, (got, item) in enumerate(zip(value, items, strict=True)):
                assert_shape(got, item, f"{where}[{index}]")
    elif isinstance(shape, str):
        assert isinstance(value, str), f"{where}: {value!r} is not a string"
    else:
        assert value == shape, f"{where}: {value!r} != {shape!r}"


def create_key(server: SeedServer, admin_key: str | None, **body: Any) -> str:
    """A new API key made through the API (as the admin ``admin_key``, or on an open
    server); its secret."""
    headers = {"X-API-Key": admin_key} if admin_key else {}
    response = httpx.post(f"{server.url}/v1/keys", json=body, headers=headers, timeout=10)
    assert response.status_code == 201, response.text
    secret: str = response.json()["key"]
    return secret
