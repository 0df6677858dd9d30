"""seeds/003, the ``threadmem`` library, in local mode (on the database a live server serves)
and in remote mode (against that server), on SQLite and PostgreSQL: the design's two
examples run as written, and each member it documents called as it documents it.

The design names its classes ``threadmem.RoleThread`` and so on but shows no import; the
examples run with the names ``threadloom.threadmem`` exports. Both modes share one database,
so each test also reads what it wrote through the other mode.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.seeds import designs
from tests.seeds.conftest import SQL_BACKENDS, SeedServer, fill, serve
from threadloom import local
from threadloom._threadmem.access import close_remote_clients
from threadloom.threadmem import (
    RoleMessage,
    RoleThread,
    RoleThreadRecord,
    V1Role,
    V1RoleMessage,
    V1RoleThread,
    V1RoleThreads,
    V1UpdateRoleThread,
)

pytestmark = pytest.mark.server

ADA = V1Role(name="assistant", user_id="u-7", user_name="Ada", icon="https://x.test/a.png")
CAT = "https://x.test/cat.png"


@pytest.fixture(scope="module", params=SQL_BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SeedServer]:
    with serve(request, tmp_path_factory) as live:
        yield live


@pytest.fixture(autouse=True)
def local_database(server: SeedServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local mode works on the server's database; no key of the developer's leaks in."""
    monkeypatch.setenv("THREADLOOM_DATABASE_URL", server.database_url)
    for name in ("THREADLOOM_API_KEY", "AGENTSEA_HUB_API_KEY", "THREADLOOM_URL"):
        monkeypatch.delenv(name, raising=False)
    local.close_all()
    close_remote_clients()
    yield
    local.close_all()
    close_remote_clients()


@pytest.fixture(params=["local", "remote"])
def remote(request: pytest.FixtureRequest, server: SeedServer) -> str | None:
    """``remote=`` of each mode: None (the local database) or the server's URL."""
    return None if request.param == "local" else server.url


def other_mode(remote: str | None, server: SeedServer) -> str | None:
    return server.url if remote is None else None


def run_example(snippet: str, replacements: dict[str, str]) -> dict[str, Any]:
    """Runs a design's example in this process, as written but for ``replacements``, with
    the library's names; its variables."""
    namespace: dict[str, Any] = {"RoleMessage": RoleMessage, "RoleThread": RoleThread}
    exec(fill(snippet, replacements), namespace)
    return namespace


def host_of(remote: str | None) -> str:
    """The example's ``remote_url`` in each mode: the server's URL, or None for local."""
    return repr(remote) if remote is not None else "None"


# The examples ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def user123_thread(server: SeedServer) -> str:
    """The thread the ``find`` example finds, made once per server."""
    thread = RoleThread(owner_id="user123", public=True, name="Thread Name", remote=server.url)
    close_remote_clients()
    return thread.id


def test_find_threads_example_returns_the_owners_threads(
    remote: str | None, user123_thread: str
) -> None:
    example = run_example(
        designs.FIND_THREADS_EXAMPLE, {f'"{designs.FIND_THREADS_HOST}"': host_of(remote)}
    )

    found = example["found_threads"]
    assert isinstance(found, list)
    assert [thread.id for thread in found] == [user123_thread]
    [thread] = found
    assert isinstance(thread, RoleThread)
    assert (thread.owner_id, thread.public, thread.name) == ("user123", True, "Thread Name")
    assert thread.remote == remote


def test_find_threads_example_prints_as_documented(
    remote: str | None, user123_thread: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert user123_thread
    run_example(designs.FIND_THREADS_EXAMPLE, {f'"{designs.FIND_THREADS_HOST}"': host_of(remote)})

    printed = capsys.readouterr().out.strip()
    documented = re.escape(designs.FIND_THREADS_OUTPUT).replace(re.escape("..."), ".*")
    assert re.fullmatch(documented, printed), printed


def test_find_messages_example(server: SeedServer) -> None:
    """``RoleMessage.find`` reads the local database: it finds the messages posted through
    the server too, oldest first."""
    served = RoleThread(name="Examples", remote=server.url)
    served.post("example_role", "first, through the server")
    here = RoleThread(name="Examples here")
    here.post("user", "not this role")
    here.post("example_role", "second, on the database")

    example = run_example(designs.FIND_MESSAGES_EXAMPLE, {})

    found = example["found_messages"]
    assert all(isinstance(message, RoleMessage) for message in found)
    assert [(m.role, m.text, m.thread_id) for m in found] == [
        ("example_role", "first, through the server", served.id),
        ("example_role", "second, on the database", here.id),
    ]


# The documented members --------------------------------------------------------------------


def test_post_and_messages(remote: str | None, server: SeedServer) -> None:
    thread = RoleThread(
        owner_id="u-1", public=False, name="Support", metadata={"channel": "web"}, remote=remote
    )
    thread.post("user", "What is in this picture?", images=[CAT], metadata={"lang": "en"})
    thread.post("assistant", "A cat.", private=True, metadata={"model": "m-1"})

    every = thread.messages(include_private=True)
    assert [(m.role, m.text, m.private) for m in every] == [
        ("user", "What is in this picture?", False),
        ("assistant", "A cat.", True),
    ]
    assert every[0].images == [CAT]
    assert (every[0].metadata, every[1].metadata) == ({"lang": "en"}, {"model": "m-1"})
    assert {m.thread_id for m in every} == {thread.id}
    assert [m.text for m in thread.messages(include_private=False)] == ["What is in this picture?"]
    assert [m.text for m in thread.messages()] == ["What is in this picture?", "A cat."]

    # The other mode sees the same thread.
    [same] = RoleThread.find(remote=other_mode(remote, server), id=thread.id)
    assert (same.owner_id, same.public, same.name) == ("u-1", False, "Support")
    assert same.metadata == {"channel": "web"}
    assert [(m.id, m.text) for m in same.messages()] == [(m.id, m.text) for m in every]


def test_add_msg_and_save_a_message(remote: str | None) -> None:
    thread = RoleThread(name="Messages", remote=remote)
    message = RoleMessage(role="user", text="Hello", images=[CAT], private=False, metadata={"n": 1})
    thread.add_msg(message)
    assert message.thread_id == thread.id
    saved = RoleMessage(role="assistant", text="Hi!", thread_id=thread.id)
    saved.save()  # the local database, which the server serves

    stored = thread.messages()
    assert [(m.id, m.role, m.text) for m in stored] == [
        (message.id, "user", "Hello"),
        (saved.id, "assistant", "Hi!"),
    ]
    assert stored[0].images == [CAT]
    assert stored[0].metadata == {"n": 1}
    with pytest.raises(ValueError, match="already"):
        thread.add_msg(message)


def test_add_and_remove_roles(remote: str | None, server: SeedServer) -> None:
    thread = RoleThread(name="Roles", remote=remote)
    thread.add_role(ADA)
    assert thread.role_mapping == {"assistant": ADA}
    with pytest.raises(ValueError, match="already exists"):
        thread.add_role(ADA)
    [seen] = RoleThread.find(remote=other_mode(remote, server), id=thread.id)
    assert seen.role_mapping == {"assistant": ADA}

    thread.remove_role("assistant")
    assert thread.role_mapping == {}
    with pytest.raises(ValueError, match="does not exist"):
        thread.remove_role("assistant")
    [seen] = RoleThread.find(remote=other_mode(remote, server), id=thread.id)
    assert seen.role_mapping == {}


def test_copy(remote: str | None) -> None:
    thread = RoleThread(
        owner_id="u-2",
        public=True,
        name="Original",
        metadata={"a": 1},
        remote=remote,
        role_mapping={"assistant": ADA},
    )
    thread.post("user", "one")
    thread.post("assistant", "two", private=True)

    copied = thread.copy()

    assert copied.id != thread.id
    assert (copied.owner_id, copied.public, copied.name) == ("u-2", True, "Original")
    assert copied.metadata == {"a": 1}
    assert copied.role_mapping == {"assistant": ADA}
    assert [(m.text, m.private) for m in copied.messages()] == [("one", False), ("two", True)]
    assert [m.text for m in thread.messages()] == ["one", "two"]


def test_save_and_refresh(remote: str | None, server: SeedServer) -> None:
    thread = RoleThread(name="Before", remote=remote)
    thread.name = "After"
    thread.metadata = {"stage": 2}
    thread.save()
    [other] = RoleThread.find(remote=other_mode(remote, server), id=thread.id)
    assert (other.name, other.metadata) == ("After", {"stage": 2})

    other.post("user", "written elsewhere")
    before = thread.version
    thread.refresh()
    assert thread.version != before
    assert [m.text for m in thread.messages()] == ["written elsewhere"]


def test_generate_version_hash(remote: str | None) -> None:
    thread = RoleThread(name="Versions", remote=remote)
    first = thread.generate_version_hash()
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert thread.generate_version_hash() == first == thread.version
    thread.post("user", "a change")
    assert thread.generate_version_hash() != first


def test_v1_schemas_round_trip(remote: str | None, server: SeedServer) -> None:
    thread = RoleThread(owner_id="u-3", name="V1", metadata={"k": "v"}, remote=remote)
    thread.add_role(ADA)
    thread.post("user", "hello", images=[CAT], metadata={"m": 1})

    v1 = thread.to_v1()
    assert isinstance(v1, V1RoleThread)
    assert (v1.id, v1.owner_id, v1.public, v1.name, v1.remote) == (
        thread.id,
        "u-3",
        False,
        "V1",
        remote,
    )
    assert v1.metadata == {"k": "v"}
    assert v1.role_mapping == {"assistant": ADA}
    assert [(m.role, m.text, m.images) for m in v1.messages] == [("user", "hello", [CAT])]
    assert v1.version == thread.version
    assert V1RoleThreads(threads=[v1]).threads == [v1]

    message_v1 = thread.messages()[0].to_v1()
    assert isinstance(message_v1, V1RoleMessage)
    back = RoleMessage.from_v1(message_v1)
    assert (back.id, back.text, back.metadata, back.thread_id) == (
        message_v1.id,
        "hello",
        {"m": 1},
        thread.id,
    )

    # A thread built from a V1 schema is stored, messages included, by its first save.
    restored = RoleThread.from_v1(v1.model_copy(update={"id": "thr_from_v1_" + thread.id[-8:]}))
    restored.save()
    [found] = RoleThread.find(remote=other_mode(remote, server), id=restored.id)
    assert (found.name, found.owner_id, found.metadata) == ("V1", "u-3", {"k": "v"})
    assert [m.text for m in found.messages()] == ["hello"]

    update = thread.to_update_schema()
    assert update == V1UpdateRoleThread(name="V1", public=False, metadata={"k": "v"})


def test_records_round_trip(remote: str | None) -> None:
    thread = RoleThread(name="Records", remote=remote)
    thread.post("user", "kept", metadata={"r": 1})

    record = thread.to_record()
    assert isinstance(record, RoleThreadRecord)
    assert (record.id, record.name) == (thread.id, "Records")
    assert [(m.text, m.meta_data) for m in record.messages] == [("kept", '{"r": 1}')]
    again = RoleThread.from_record(record)
    assert again.id == thread.id
    assert [m.text for m in again.messages()] == ["kept"]
    message = RoleMessage.from_record(record.messages[0])
    assert (message.text, message.metadata) == ("kept", {"r": 1})


def test_from_openai(server: SeedServer) -> None:
    """``from_openai`` makes a local thread; the server serves it."""
    message = RoleMessage.from_openai({"role": "user", "content": "Hi"})
    assert (message.role, message.text, message.images) == ("user", "Hi", [])
    thread = RoleThread.from_openai(
        [
            {"role": "user", "content": "Hi"},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Look"},
                    {"type": "image_url", "image_url": {"url": CAT}},
                ],
            },
        ]
    )

    assert [(m.role, m.text, m.images) for m in thread.messages()] == [
        ("user", "Hi", []),
        ("assistant", "Look", [CAT]),
    ]
    response = httpx.get(f"{server.url}/v1/spaces/default/threads/{thread.id}/messages", timeout=10)
    assert response.status_code == 200, response.text
    assert [m["content"] for m in response.json()["data"]] == ["Hi", "Look"]
