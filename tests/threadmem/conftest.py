"""Fixtures of the threadmem compatibility API: the local database it writes to (through
``THREADLOOM_DATABASE_URL``), real servers for remote mode, and an environment without the
developer's own keys. Every test starts with no local store open and no HTTP client kept."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.servers import LiveServer, start_server, stop_server
from threadloom import local
from threadloom._threadmem.access import close_remote_clients
from threadloom.store.migrate import migrate

# A 1x1 PNG and a GIF header: enough for the type to be told by the first bytes.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
ENV_KEYS = ("THREADLOOM_API_KEY", "AGENTSEA_HUB_API_KEY", "THREADLOOM_URL")


@pytest.fixture(autouse=True)
def clean_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ENV_KEYS:
        monkeypatch.delenv(name, raising=False)
    local.close_all()
    close_remote_clients()
    yield
    local.close_all()
    close_remote_clients()


@pytest.fixture
def local_db(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Local mode on a clean database of each backend."""
    monkeypatch.setenv("THREADLOOM_DATABASE_URL", database_url)
    return database_url


@pytest.fixture
def png_file(tmp_path: Path) -> Path:
    path = tmp_path / "dot.png"
    path.write_bytes(PNG)
    return path


@dataclass(frozen=True)
class Served:
    """A live server and the database it serves."""

    live: LiveServer
    database_url: str

    @property
    def url(self) -> str:
        return self.live.url


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """A real ``threadloom serve`` on each backend, shared by a module's tests (each test
    makes threads of its own). Keys are looked up on every request, so a test can switch
    authentication on by creating one."""
    logs = tmp_path_factory.mktemp("server")
    if request.param == "sqlite":
        url = f"sqlite:///{logs / 'served.db'}"
        migrate(url)
    else:
        url = str(request.getfixturevalue("postgres_server"))
    live = start_server(url, logs, env={"THREADLOOM_KEY_CACHE_SECONDS": "0"})
    yield Served(live, url)
    stop_server(live)


@pytest.fixture
def served_db(server: Served, monkeypatch: pytest.MonkeyPatch) -> str:
    """Local mode on the database ``server`` serves."""
    monkeypatch.setenv("THREADLOOM_DATABASE_URL", server.database_url)
    return server.database_url
