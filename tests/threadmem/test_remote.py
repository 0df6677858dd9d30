"""``RoleThread`` in remote mode against real ``threadloom serve`` processes (SQLite and
PostgreSQL), and threads shared between local mode, remote mode and the server's APIs."""

from __future__ import annotations

import base64
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.servers import LiveServer
from tests.threadmem.conftest import PNG, Served
from threadloom import local
from threadloom.errors import NotFound, Unauthenticated
from threadloom.threadmem import (
    RoleMessage,
    RoleThread,
    V1Role,
    V1RoleThread,
)

pytestmark = pytest.mark.server

ADA = V1Role(name="assistant", user_id="u-7", user_name="Ada", icon="https://x.test/a.png")
BOB = V1Role(name="user", user_id="u-8", user_name="Bob", icon="b.png", description="asks")
PNG_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()


def get_json(server: Served, path: str, **params: Any) -> Any:
    response = httpx.get(server.url + path, params=params, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def native_messages(server: Served, thread_id: str) -> list[dict[str, Any]]:
    path = f"/v1/spaces/default/threads/{thread_id}/messages"
    data: list[dict[str, Any]] = get_json(server, path, include_private="true", limit=100)["data"]
    return data


def rolethread(server: Served, thread_id: str) -> V1RoleThread:
    return V1RoleThread.model_validate(get_json(server, f"/v1/rolethreads/{thread_id}"))


def without_empty_metadata(thread: V1RoleThread) -> V1RoleThread:
    """The server's V1 view gives empty metadata as ``{}``; the library, like the original's
    records, as None."""
    messages = [m.model_copy(update={"metadata": m.metadata or None}) for m in thread.messages]
    return thread.model_copy(update={"metadata": thread.metadata or None, "messages": messages})


def texts(messages: list[RoleMessage]) -> list[str]:
    return [message.text for message in messages]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def add_role_at(start: threading.Barrier, thread: RoleThread, role: V1Role) -> ValueError | None:
    """``thread.add_role(role)`` once every party is at ``start``: the ValueError, if any."""
    start.wait(timeout=10)
    try:
        thread.add_role(role)
    except ValueError as error:
        return error
    return None


class TestRemote:
    def test_create_post_and_read(self, server: Served, png_file: Path) -> None:
        thread = RoleThread(
            owner_id="o-1",
            public=True,
            name="remote",
            metadata={"a": 1},
            remote=server.url,
            role_mapping={"assistant": ADA},
        )
        assert thread.remote == server.url
        thread.post(
            "user",
            "look",
            images=["https://x.test/a.png", str(png_file), base64.b64encode(PNG).decode()],
            metadata={"m": 1},
        )
        thread.post("assistant", "psst", private=True, metadata={"why": "internal"})
        messages = thread.messages()
        assert [(m.role, m.text, m.private) for m in messages] == [
            ("user", "look", False),
            ("assistant", "psst", True),
        ]
        assert messages[0].images == ["https://x.test/a.png", PNG_URL, PNG_URL]
        assert messages[0].metadata == {"m": 1}
        assert messages[1].metadata == {"why": "internal"}
        assert texts(thread.messages(include_private=False)) == ["look"]
        assert texts(thread.messages(last_n=1)) == ["psst"]
        native = native_messages(server, thread.id)
        assert [m["id"] for m in native] == [m.id for m in messages]
        assert [m["private"] for m in native] == [False, True]
        thread_row = get_json(server, f"/v1/spaces/default/threads/{thread.id}")
        assert thread_row["title"] == "remote"
        assert thread_row["owner_id"] == "o-1"
        assert thread_row["public"] is True
        assert thread_row["metadata"] == {"a": 1}
        assert thread_row["role_mapping"]["assistant"] == ADA.model_dump()
        served = rolethread(server, thread.id)
        assert served.role_mapping == {"assistant": ADA}
        assert [m.model_dump() for m in served.messages] == [
            m.to_v1().model_dump() for m in messages
        ]

    def test_add_msg_keeps_the_id(self, server: Served) -> None:
        thread = RoleThread(remote=server.url)
        message = RoleMessage("user", "hi", private=True, metadata={"k": "v"})
        thread.add_msg(message)
        (stored,) = thread.messages()
        assert (stored.id, stored.private, stored.metadata) == (message.id, True, {"k": "v"})
        assert stored.created == message.created
        with pytest.raises(ValueError, match="already in thread"):
            thread.add_msg(message)

    def test_roles(self, server: Served) -> None:
        thread = RoleThread(remote=server.url)
        thread.add_role(ADA)
        thread.add_role(BOB)
        with pytest.raises(ValueError, match="already exists"):
            thread.add_role(ADA)
        assert rolethread(server, thread.id).role_mapping == {"assistant": ADA, "user": BOB}
        thread.remove_role("assistant")
        assert thread.role_mapping == {"user": BOB}
        with pytest.raises(ValueError, match="^Role assistant does not exist$"):
            thread.remove_role("assistant")
        assert rolethread(server, thread.id).role_mapping == {"user": BOB}

    def test_roles_update_the_handle(self, server: Served) -> None:
        thread = RoleThread(remote=server.url)
        (other,) = RoleThread.find(remote=server.url, id=thread.id)
        before = thread.version
        other.add_role(BOB)  # a change the handle has not seen
        thread.add_role(ADA)
        assert thread.role_mapping == {"user": BOB, "assistant": ADA}
        assert thread.version != before
        with pytest.raises(ValueError, match="^Role assistant already exists$"):
            other.add_role(ADA.model_copy(update={"user_name": "Eve"}))
        assert rolethread(server, thread.id).role_mapping["assistant"] == ADA
        assert other.role_mapping == {"user": BOB}  # a refused change leaves it as it was
        other.remove_role("assistant")
        assert other.role_mapping == {"user": BOB}
        thread.remove_role("user")
        assert thread.role_mapping == {}
        assert thread.version == rolethread(server, thread.id).version

    def test_roles_of_a_missing_thread(self, server: Served) -> None:
        thread = RoleThread(remote=server.url)
        thread.add_role(ADA)
        (other,) = RoleThread.find(remote=server.url, id=thread.id)
        other.delete()
        with pytest.raises(NotFound):
            thread.add_role(BOB)
        with pytest.raises(NotFound):
            thread.remove_role("assistant")
        with pytest.raises(NotFound):
            thread.remove_role("nobody")

    def test_concurrent_add_role_is_atomic(self, server: Served) -> None:
        """Two handles on one thread, in two threads, add the same role at once: exactly one
        succeeds, the other gets the ValueError, and the role is the winner's."""
        thread = RoleThread(remote=server.url)
        (other,) = RoleThread.find(remote=server.url, id=thread.id)
        for name in (f"role-{n}" for n in range(8)):
            roles = [ADA.model_copy(update={"name": name, "user_name": who}) for who in "AB"]
            start = threading.Barrier(2)
            with ThreadPoolExecutor(2) as pool:
                outcomes = list(pool.map(partial(add_role_at, start), [thread, other], roles))
            errors = [str(error) for error in outcomes if error is not None]
            assert errors == [f"Role {name} already exists"]
            winner = outcomes.index(None)
            assert rolethread(server, thread.id).role_mapping[name] == roles[winner]
            assert [thread, other][winner].role_mapping[name] == roles[winner]
        thread.refresh()
        assert len(thread.role_mapping) == 8

    def test_save_refresh_delete(self, server: Served) -> None:
        thread = RoleThread(name="a", metadata={"drop": 1}, remote=server.url)
        thread.name = "b"
        thread.metadata = {"keep": True}
        thread.save()
        served = rolethread(server, thread.id)
        assert (served.name, served.metadata) == ("b", {"keep": True})
        (other,) = RoleThread.find(remote=server.url, id=thread.id)
        other.post("user", "from elsewhere")
        other.name = "c"
        other.save()
        thread.refresh()
        assert thread.name == "c"
        assert thread.version == other.version
        thread.delete()
        assert RoleThread.find(remote=server.url, id=thread.id) == []
        with pytest.raises(NotFound):
            thread.refresh()

    def test_find_filters_on_the_server(self, server: Served) -> None:
        owner = unique("owner")
        a = RoleThread(owner_id=owner, name="alpha", public=True, remote=server.url)
        b = RoleThread(owner_id=owner, name="alphabet", remote=server.url)
        c = RoleThread(owner_id=owner, name="beta", remote=server.url)

        def ids(threads: list[RoleThread]) -> list[str]:
            assert all(thread.remote == server.url for thread in threads)
            return [thread.id for thread in threads]

        assert ids(RoleThread.find(remote=server.url, owner_id=owner)) == ids([c, b, a])
        assert ids(RoleThread.find(remote=server.url, owner_id=owner, name="alpha")) == ids([a])
        assert ids(RoleThread.find(remote=server.url, owner_id=owner, public=False)) == ids([c, b])
        assert ids(RoleThread.find(remote=server.url, id=b.id)) == ids([b])

    def test_a_found_thread_keeps_the_remote_as_it_was_given(self, server: Served) -> None:
        thread = RoleThread(name=unique("given"), remote=server.url + "/")
        (found,) = RoleThread.find(remote=server.url + "/", id=thread.id)
        assert found.remote == server.url + "/"
        assert found.copy().remote == server.url + "/"

    def test_copy(self, server: Served) -> None:
        thread = RoleThread(name="n", metadata={"a": 1}, remote=server.url)
        thread.add_role(ADA)
        for index in range(105):
            thread.post("user", f"m{index}", private=index == 0, metadata={"i": index})
        copied = thread.copy()
        assert copied.id != thread.id
        assert copied.remote == server.url
        assert (copied.name, copied.metadata, copied.role_mapping) == (
            "n",
            {"a": 1},
            {"assistant": ADA},
        )
        copies = copied.messages()
        assert [(m.id, m.text, m.private, m.metadata) for m in copies] == [
            (m.id, m.text, m.private, m.metadata) for m in thread.messages()
        ]
        native = get_json(server, f"/v1/spaces/default/threads/{copied.id}")
        assert native["message_count"] == 105

    def test_v1_and_record_round_trips(self, server: Served) -> None:
        thread = RoleThread(owner_id="o", name="n", metadata={"a": 1}, remote=server.url)
        thread.add_role(BOB)
        thread.post("user", "hi", images=["https://x.test/a.png"], metadata={"m": 1})
        thread.post("assistant", "psst", private=True)
        v1 = thread.to_v1()
        assert v1.remote == server.url
        assert RoleThread.from_v1(v1).to_v1() == v1
        record = thread.to_record()
        assert RoleThread.from_record(record).to_record() == record
        moved = RoleThread.from_v1(v1.model_copy(update={"id": unique("moved")}))
        moved.save()
        served = rolethread(server, moved.id)
        assert (served.name, served.owner_id, served.metadata) == ("n", "o", {"a": 1})
        assert served.role_mapping == {"user": BOB}
        assert [(m.id, m.text, m.private) for m in served.messages] == [
            (m.id, m.text, m.private) for m in v1.messages
        ]
        assert thread.to_openai()[0]["content"][1] == {
            "type": "image_url",
            "image_url": {"url": "https://x.test/a.png"},
        }


class TestSharedWithTheServer:
    """Local mode writes the database the server serves: each sees the other's threads."""

    @pytest.mark.usefixtures("served_db")
    def test_local_thread_served(self, server: Served, png_file: Path) -> None:
        thread = RoleThread(owner_id="o", name="local", metadata={"a": 1})
        thread.add_role(ADA)
        thread.post("user", "hi", images=[png_file], metadata={"m": 1})
        thread.post("assistant", "psst", private=True)
        native = native_messages(server, thread.id)
        assert [(m["content"], m["private"], m["metadata"]) for m in native] == [
            ("hi", False, {"m": 1}),
            ("psst", True, {}),
        ]
        assert native[0]["images"] == [PNG_URL]
        served = without_empty_metadata(rolethread(server, thread.id))
        mine = thread.to_v1()
        assert served.model_dump(exclude={"version"}) == mine.model_dump(exclude={"version"})
        (remote,) = RoleThread.find(remote=server.url, id=thread.id)
        assert remote.to_v1().model_dump(exclude={"remote"}) == mine.model_dump(exclude={"remote"})

    @pytest.mark.usefixtures("served_db")
    def test_served_thread_read_locally(self, server: Served) -> None:
        owner = unique("owner")
        created = httpx.post(
            server.url + "/v1/rolethreads",
            json={"name": "served", "owner_id": owner, "metadata": {"a": 1}},
            timeout=10,
        )
        assert created.status_code == 200, created.text
        thread_id = created.json()["id"]
        for body in (
            {"role": "user", "msg": "hi", "images": ["https://x.test/a.png"]},
            {"role": "assistant", "text": "psst", "private": True, "metadata": {"m": 1}},
        ):
            posted = httpx.post(f"{server.url}/v1/rolethreads/{thread_id}/msgs", json=body)
            assert posted.status_code == 200, posted.text
        role = httpx.post(f"{server.url}/v1/rolethreads/{thread_id}/roles", json=ADA.model_dump())
        assert role.status_code == 200, role.text
        (thread,) = RoleThread.find(owner_id=owner)
        assert thread.remote is None
        assert (thread.id, thread.name, thread.metadata) == (thread_id, "served", {"a": 1})
        assert thread.role_mapping == {"assistant": ADA}
        messages = thread.messages()
        assert [(m.text, m.private, m.metadata, m.images) for m in messages] == [
            ("hi", False, None, ["https://x.test/a.png"]),
            ("psst", True, {"m": 1}, []),
        ]
        served = without_empty_metadata(rolethread(server, thread_id))
        assert [m.to_v1() for m in messages] == served.messages
        thread.post("user", "back to you")
        assert [m.text for m in rolethread(server, thread_id).messages][-1] == "back to you"
        thread.delete()
        assert httpx.get(f"{server.url}/v1/rolethreads/{thread_id}").status_code == 404


def test_api_keys(
    sqlite_url: str,
    live_servers: Callable[..., LiveServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The key is ``auth_token``, ``THREADLOOM_API_KEY`` or the original's
    ``AGENTSEA_HUB_API_KEY``."""
    store = local.store_for(sqlite_url)
    key, _ = store.run(store.services.keys.create("admin", None))
    local.close_all()
    url = live_servers(sqlite_url, env={"THREADLOOM_KEY_CACHE_SECONDS": "0"}).url
    with pytest.raises(Unauthenticated):
        RoleThread(remote=url)
    monkeypatch.setenv("AGENTSEA_HUB_API_KEY", key)
    thread = RoleThread(remote=url, name="keyed")
    thread.post("user", "hi")
    monkeypatch.delenv("AGENTSEA_HUB_API_KEY")
    monkeypatch.setenv("THREADLOOM_API_KEY", key)
    assert [t.id for t in RoleThread.find(remote=url, name="keyed")] == [thread.id]
    monkeypatch.delenv("THREADLOOM_API_KEY")
    with pytest.raises(Unauthenticated):
        RoleThread.find(remote=url)
    assert texts(thread.messages()) == ["hi"]  # a thread keeps the key it was made with
    keyless = RoleThread.from_v1(thread.to_v1())
    with pytest.raises(Unauthenticated):
        keyless.post("user", "no key")
    keyless.refresh(auth_token=key)  # and keeps this one for its later calls
    keyless.post("assistant", "with the token")
    assert texts(thread.messages()) == ["hi", "with the token"]
