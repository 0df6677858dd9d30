"""The blocking ``Client`` against a real ``threadloom serve`` over loopback, configured from
``THREADLOOM_URL`` and ``THREADLOOM_API_KEY`` as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

import httpx
import pytest

from tests.fixtures.servers import LiveServer, free_port
from threadloom import (
    Client,
    Conflict,
    NotFound,
    PreconditionFailed,
    ThreadloomError,
    TransportError,
    Unauthenticated,
)
from threadloom.threadmem import V1Role

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
        me = client.keys.me()
        assert (me.key_id, me.role, me.space_id) == (client.keys.list()[0].id, "admin", None)


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


def race(*calls: Callable[[], object]) -> list[object]:
    """Run the calls at once, one thread each: what each returned or raised, in order."""
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], object]) -> object:
        start.wait(timeout=10)
        try:
            return call()
        except ThreadloomError as error:
            return error

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def add_role(client: Client, name: str, user: str) -> V1Role:
    role = {"name": name, "user_id": user, "user_name": user, "icon": ""}
    return client.rolethreads.add_role("roles", role)


def test_concurrent_role_changes_are_atomic(served: Served) -> None:
    """Two clients adding the same role: exactly one succeeds, the other gets Conflict and
    the role is the winner's. A removal racing an add: both succeed (the role is back) or
    the add conflicts (the role is gone), never a mix."""
    with (
        Client(served.url, served.admin_key) as first,
        Client(served.url, served.admin_key) as second,
    ):
        first.threads.create(SPACE, id="roles")
        for name in (f"role-{n}" for n in range(8)):
            outcomes = race(
                partial(add_role, first, name, "ada"), partial(add_role, second, name, "bob")
            )
            errors = [o for o in outcomes if isinstance(o, ThreadloomError)]
            (winner,) = [o for o in outcomes if isinstance(o, V1Role)]
            assert len(errors) == 1
            assert type(errors[0]) is Conflict
            stored = first.threads.get(SPACE, "roles").role_mapping[name]
            assert stored.user_name == winner.user_name

            removed, added = race(
                partial(first.rolethreads.remove_role, "roles", name),
                partial(add_role, second, name, "eve"),
            )
            assert isinstance(removed, V1Role)
            mapping = first.threads.get(SPACE, "roles").role_mapping
            if isinstance(added, V1Role):
                assert mapping[name].user_name == "eve"
            else:
                assert type(added) is Conflict
                assert name not in mapping
