"""The blocking ``Client`` against a real ``threadloom serve`` over loopback, configured from
``THREADLOOM_URL`` and ``THREADLOOM_API_KEY`` as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import LiveServer, free_port
from threadloom import (
    Client,
    NotFound,
    PreconditionFailed,
    ThreadloomError,
    TransportError,
    Unauthenticated,
)

pytestmark = pytest.mark.server

SPACE = "default"


@dataclass
class Served:
    url: str
    admin_key: str


def create_admin_key(database_url: str) -> str:
    """``threadloom keys create --admin``, in a process of its own, as the README says."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREADLOOM_")}
    done = subprocess.run(
        [sys.executable, "-m", "threadloom", "keys", "create", "--admin"]
        + ["--database-url", database_url],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture
def served(sqlite_url: str, live_servers: Callable[..., LiveServer]) -> Served:
    key = create_admin_key(sqlite_url)
    return Served(live_servers(sqlite_url).url, key)


def test_a_conversation_configured_from_the_environment(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THREADLOOM_URL", served.url)
    monkeypatch.setenv("THREADLOOM_API_KEY", served.admin_key)
    with Client() as client:
        assert client.base_url == served.url
        assert client.health() == {"status": "ok"}
        assert client.ready()["status"] == "ready"

        created = client.threads.create_with_message(
            SPACE, "Hi!", id="support-42", title="Support chat", metadata={"customer": "c-42"}
        )
        assert created.message.seq == 1
        client.messages.create(SPACE, "support-42", "Hello, how can I help?", role="assistant")
        client.messages.create_batch(SPACE, "support-42", [{"content": str(i)} for i in range(5)])
        seqs = [m.seq for m in client.messages.iter(SPACE, "support-42", limit=3)]
        assert seqs == list(range(1, 8))
        newest = client.messages.list(SPACE, "support-42", order="desc", limit=1)
        assert newest.data[0].content == "4"

        state = client.state.put(SPACE, "support-42", {"step": "greeting"})
        with pytest.raises(PreconditionFailed):
            client.state.patch(SPACE, "support-42", {"step": "x"}, if_match=state.version - 1)
        patched = client.state.patch(SPACE, "support-42", {"agent": "ada"}, if_match=state.version)
        assert patched.state == {"step": "greeting", "agent": "ada"}
        assert [v.version for v in client.state.iter_history(SPACE, "support-42")] == [1]

        found = client.threads.list(SPACE, metadata={"customer": "c-42"})
        assert [t.id for t in found.data] == ["support-42"]
        assert client.threads.get(SPACE, "support-42").message_count == 7
        assert client.threads.archive(SPACE, "support-42").status == "archived"
        client.threads.purge(SPACE, "support-42")
        with pytest.raises(NotFound):
            client.threads.get(SPACE, "support-42")
        assert [key.role for key in client.keys.list()] == ["admin"]


def test_arguments_win_over_the_environment(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THREADLOOM_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("THREADLOOM_API_KEY", "tl_not-a-key")
    with Client(served.url, served.admin_key) as client:
        assert client.threads.create(SPACE, id="t").id == "t"
        assert client.legacy.get("t").thread_id == "t"


def test_without_a_key_is_401(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THREADLOOM_URL", served.url)
    with Client() as client:
        assert client.health() == {"status": "ok"}  # no key needed to see it is alive
        with pytest.raises(Unauthenticated) as caught:
            client.threads.list(SPACE)
    assert caught.value.status_code == 401
    assert isinstance(caught.value, ThreadloomError)


def test_nothing_listening_is_a_transport_error() -> None:
    waits: list[float] = []
    with Client(f"http://127.0.0.1:{free_port()}", max_retries=2, sleep=waits.append) as client:
        with pytest.raises(TransportError) as caught:
            client.health()
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert len(waits) == 2
