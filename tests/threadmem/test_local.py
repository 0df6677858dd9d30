"""``RoleThread`` and ``RoleMessage`` in local mode, on SQLite and PostgreSQL: every member,
and every field through a round trip."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.threadmem.conftest import GIF, PNG
from threadloom import local
from threadloom.core.auth import OPEN_PRINCIPAL
from threadloom.errors import NotFound
from threadloom.models import MessageListQuery
from threadloom.store.rows import ThreadRow
from threadloom.threadmem import (
    RoleMessage,
    RoleMessageRecord,
    RoleThread,
    RoleThreadRecord,
    V1Role,
    V1RoleMessage,
    V1RoleThread,
    V1UpdateRoleThread,
)

pytestmark = pytest.mark.usefixtures("local_db")

ADA = V1Role(name="assistant", user_id="u-7", user_name="Ada", icon="https://x.test/a.png")
BOB = V1Role(name="user", user_id="u-8", user_name="Bob", icon="b.png", description="asks")


def stored_messages(thread_id: str) -> list[dict[str, object]]:
    """The thread's messages as the store has them (private ones included)."""
    store = local.store_for()
    query = MessageListQuery(limit=100, include_private=True)
    page = store.run(
        store.services.threads.list_messages(OPEN_PRINCIPAL, "default", thread_id, query)
    )
    rows: list[dict[str, object]] = page["data"]
    return rows


def stored_thread(thread_id: str) -> ThreadRow:
    store = local.store_for()
    return store.run(store.services.threads.get(OPEN_PRINCIPAL, "default", thread_id))


def texts(messages: list[RoleMessage]) -> list[str]:
    return [message.text for message in messages]


class TestCreate:
    def test_defaults(self) -> None:
        thread = RoleThread()
        assert thread.owner_id is None
        assert thread.public is False
        assert thread.name is None
        assert thread.metadata is None
        assert thread.remote is None
        assert thread.role_mapping == {}
        assert thread.messages() == []
        assert isinstance(thread.created, float)
        row = stored_thread(thread.id)
        assert row["space_id"] == "default"
        assert row["message_count"] == 0

    def test_fields_are_stored(self) -> None:
        thread = RoleThread(
            owner_id="o-1",
            public=True,
            name="Support",
            metadata={"customer": "c-42", "n": 3},
            role_mapping={"assistant": ADA},
        )
        row = stored_thread(thread.id)
        assert row["owner_id"] == "o-1"
        assert row["public"] is True
        assert row["title"] == "Support"
        assert row["metadata"] == {"customer": "c-42", "n": 3}
        assert row["role_mapping"] == {"assistant": {**ADA.model_dump()}}
        (found,) = RoleThread.find(id=thread.id)
        assert (found.owner_id, found.public, found.name) == ("o-1", True, "Support")
        assert found.metadata == {"customer": "c-42", "n": 3}
        assert found.role_mapping == {"assistant": ADA}

    def test_role_mapping_default_is_not_shared(self) -> None:
        first, second = RoleThread(), RoleThread()
        first.add_role(ADA)
        assert second.role_mapping == {}
        assert RoleThread().role_mapping == {}

    def test_the_given_role_mapping_is_copied(self) -> None:
        roles = {"assistant": ADA}
        thread = RoleThread(role_mapping=roles)
        thread.add_role(BOB)
        assert roles == {"assistant": ADA}


class TestPostAndMessages:
    def test_post_keeps_every_field(self) -> None:
        thread = RoleThread()
        thread.post("user", "hello", images=["https://x.test/a.png"], metadata={"k": [1, 2]})
        thread.post("assistant", "secret", private=True)
        messages = thread.messages()
        assert [(m.role, m.text, m.private) for m in messages] == [
            ("user", "hello", False),
            ("assistant", "secret", True),
        ]
        assert messages[0].images == ["https://x.test/a.png"]
        assert messages[0].metadata == {"k": [1, 2]}
        assert messages[1].metadata is None
        assert all(m.thread_id == thread.id for m in messages)
        assert messages[0].created <= messages[1].created
        rows = stored_messages(thread.id)
        assert [row["id"] for row in rows] == [m.id for m in messages]
        assert rows[1]["private"] is True

    def test_include_private(self) -> None:
        thread = RoleThread()
        thread.post("user", "a")
        thread.post("assistant", "b", private=True)
        thread.post("user", "c")
        assert texts(thread.messages(include_private=False)) == ["a", "c"]
        assert texts(thread.messages()) == ["a", "b", "c"]

    def test_messages_are_read_page_by_page(self) -> None:
        thread = RoleThread()
        for index in range(250):
            thread.post("user", f"m{index}")
        assert texts(thread.messages()) == [f"m{index}" for index in range(250)]

    def test_last_n(self) -> None:
        thread = RoleThread()
        for index in range(130):
            thread.post("user", f"m{index}", private=index % 10 == 9)
        assert texts(thread.messages(last_n=3)) == ["m127", "m128", "m129"]
        assert texts(thread.messages(last_n=120)) == [f"m{i}" for i in range(10, 130)]
        assert len(thread.messages(last_n=500)) == 130
        public = thread.messages(include_private=False, last_n=2)
        assert texts(public) == ["m127", "m128"]
        assert thread.messages(last_n=0) == []

    def test_add_msg_keeps_the_message_id(self) -> None:
        thread = RoleThread()
        message = RoleMessage("user", "hi", metadata={"a": 1}, private=True)
        made_at = message.created
        thread.add_msg(message)
        assert message.thread_id == thread.id
        assert message.created >= made_at - 1
        (stored,) = thread.messages()
        assert stored.id == message.id
        assert (stored.metadata, stored.private, stored.created) == (
            {"a": 1},
            True,
            message.created,
        )
        with pytest.raises(ValueError, match="already in thread"):
            thread.add_msg(message)

    def test_version_changes_with_the_thread(self) -> None:
        thread = RoleThread()
        first = thread.version
        assert first == thread.generate_version_hash()
        assert len(first or "") == 64
        thread.post("user", "hi")
        second = thread.version
        assert second != first
        assert thread.version == second
        thread.name = "renamed"
        thread.save()
        assert thread.version not in (first, second)
        (found,) = RoleThread.find(id=thread.id)
        assert found.version == thread.version


class TestRoleMessage:
    def test_construction_writes_nothing(self) -> None:
        thread = RoleThread()
        message = RoleMessage("user", "hi", thread_id=thread.id)
        assert stored_messages(thread.id) == []
        message.save()
        message.save()  # stored messages never change: saving again does nothing
        assert [row["id"] for row in stored_messages(thread.id)] == [message.id]

    def test_save_needs_a_thread(self) -> None:
        with pytest.raises(ValueError, match="thread_id"):
            RoleMessage("user", "hi").save()

    def test_find(self) -> None:
        first, second = RoleThread(), RoleThread()
        first.post("user", "a", metadata={"tag": "x"})
        second.post("user", "b")
        first.post("assistant", "c", private=True)
        second.post("assistant", "d")
        by_thread = RoleMessage.find(thread_id=first.id)
        assert texts(by_thread) == ["a", "c"]
        assert texts(RoleMessage.find(thread_id=first.id, private=False)) == ["a"]
        assert texts(RoleMessage.find(thread_id=first.id, private=True)) == ["c"]
        assert texts(RoleMessage.find(role="assistant")) == ["c", "d"]
        assert texts(RoleMessage.find()) == ["a", "b", "c", "d"]
        assert texts(RoleMessage.find(id=by_thread[1].id)) == ["c"]
        assert texts(RoleMessage.find(text="b")) == ["b"]
        assert texts(RoleMessage.find(metadata={"tag": "x"})) == ["a"]
        assert texts(RoleMessage.find(meta_data=json.dumps({"tag": "x"}))) == ["a"]
        assert RoleMessage.find(thread_id="no-such-thread") == []
        assert RoleMessage.find(thread_id=None) == []
        with pytest.raises(TypeError, match="colour"):
            RoleMessage.find(colour="red")

    def test_v1_and_record_round_trips(self) -> None:
        message = RoleMessage(
            "user", "hi", "thr-1", ["https://x.test/a.png"], private=True, metadata={"k": 1}
        )
        v1 = message.to_v1()
        assert isinstance(v1, V1RoleMessage)
        assert v1.model_dump() == {
            "id": message.id,
            "role": "user",
            "text": "hi",
            "images": ["https://x.test/a.png"],
            "private": True,
            "metadata": {"k": 1},
            "created": message.created,
            "thread_id": "thr-1",
        }
        assert RoleMessage.from_v1(v1).to_v1() == v1
        record = message.to_record()
        assert isinstance(record, RoleMessageRecord)
        assert json.loads(record.images or "") == ["https://x.test/a.png"]
        assert json.loads(record.meta_data or "") == {"k": 1}
        assert RoleMessage.from_record(record).to_v1() == v1
        bare = RoleMessage("user", "x")
        assert bare.to_record().meta_data is None
        assert RoleMessage.from_record(bare.to_record()).metadata is None


class TestRoles:
    def test_add_and_remove(self) -> None:
        thread = RoleThread()
        thread.add_role(ADA)
        thread.add_role(BOB)
        assert thread.role_mapping == {"assistant": ADA, "user": BOB}
        with pytest.raises(ValueError, match="already exists"):
            thread.add_role(ADA)
        (found,) = RoleThread.find(id=thread.id)
        assert found.role_mapping == {"assistant": ADA, "user": BOB}
        thread.remove_role("assistant")
        assert thread.role_mapping == {"user": BOB}
        with pytest.raises(ValueError, match="does not exist"):
            thread.remove_role("assistant")
        assert RoleThread.find(id=thread.id)[0].role_mapping == {"user": BOB}

    def test_role_changes_keep_unsaved_edits_unsaved(self) -> None:
        thread = RoleThread(name="before")
        thread.name = "after"
        thread.add_role(ADA)
        assert thread.name == "after"
        assert stored_thread(thread.id)["title"] == "before"

    def test_missing_thread(self) -> None:
        thread = RoleThread()
        thread.delete()
        with pytest.raises(NotFound):
            thread.remove_role("assistant")
        with pytest.raises(NotFound):
            thread.add_role(ADA)


class TestSaveRefreshDelete:
    def test_save_stores_the_fields(self) -> None:
        thread = RoleThread(name="a", metadata={"keep": 1, "drop": 2})
        thread.name = "b"
        thread.metadata = {"keep": 1, "new": "x"}
        thread.role_mapping["user"] = BOB
        thread.save()
        row = stored_thread(thread.id)
        assert row["title"] == "b"
        assert row["metadata"] == {"keep": 1, "new": "x"}
        assert row["role_mapping"] == {"user": BOB.model_dump()}
        thread.metadata = None
        thread.name = None
        thread.save()
        row = stored_thread(thread.id)
        assert (row["title"], row["metadata"]) == (None, {})

    def test_save_creates_a_missing_thread(self) -> None:
        thread = RoleThread(name="x")
        thread.post("user", "gone with the thread")
        thread.delete()
        thread.save()
        assert stored_thread(thread.id)["title"] == "x"
        assert thread.messages() == []

    def test_refresh(self) -> None:
        thread = RoleThread(name="a")
        (other,) = RoleThread.find(id=thread.id)
        other.name = "b"
        other.metadata = {"x": 1}
        other.save()
        other.post("user", "hi")
        thread.refresh()
        assert (thread.name, thread.metadata) == ("b", {"x": 1})
        assert thread.version == other.version

    def test_delete(self) -> None:
        thread = RoleThread()
        thread.post("user", "hi")
        thread.delete()
        assert RoleThread.find(id=thread.id) == []
        with pytest.raises(NotFound):
            stored_thread(thread.id)
        assert RoleMessage.find(thread_id=thread.id) == []
        with pytest.raises(NotFound):
            thread.delete()
        with pytest.raises(NotFound):
            thread.refresh()

    def test_to_update_schema(self) -> None:
        thread = RoleThread(public=True, name="n", metadata={"a": 1})
        assert thread.to_update_schema() == V1UpdateRoleThread(
            public=True, name="n", metadata={"a": 1}
        )


class TestCopy:
    def test_copy(self) -> None:
        thread = RoleThread(owner_id="o", public=True, name="n", metadata={"a": 1})
        thread.add_role(ADA)
        for index in range(120):
            thread.post("user", f"m{index}", private=index == 3, metadata={"i": index})
        copied = thread.copy()
        assert copied.id != thread.id
        assert (copied.owner_id, copied.public, copied.name, copied.metadata) == (
            "o",
            True,
            "n",
            {"a": 1},
        )
        assert copied.role_mapping == {"assistant": ADA}
        original, copies = thread.messages(), copied.messages()
        assert [m.id for m in copies] == [m.id for m in original]
        assert [(m.text, m.private, m.metadata) for m in copies] == [
            (m.text, m.private, m.metadata) for m in original
        ]
        assert all(m.thread_id == copied.id for m in copies)
        copied.post("user", "only in the copy")
        assert len(thread.messages()) == 120
        assert len(copied.messages()) == 121


class TestFind:
    def test_filters(self) -> None:
        a = RoleThread(owner_id="o-1", name="alpha", public=True)
        b = RoleThread(owner_id="o-1", name="alphabet")
        c = RoleThread(owner_id="o-2", name="alpha")
        d = RoleThread()

        def ids(threads: list[RoleThread]) -> list[str]:
            return [thread.id for thread in threads]

        assert ids(RoleThread.find()) == ids([a, b, c, d])
        assert ids(RoleThread.find(owner_id="o-1")) == ids([a, b])
        assert ids(RoleThread.find(name="alpha")) == ids([a, c])
        assert ids(RoleThread.find(name="ALPHA")) == []
        assert ids(RoleThread.find(public=True)) == ids([a])
        assert ids(RoleThread.find(public=False, owner_id="o-1")) == ids([b])
        assert ids(RoleThread.find(owner_id=None)) == ids([d])
        assert ids(RoleThread.find(id=c.id)) == ids([c])
        assert ids(RoleThread.find(id=c.id, owner_id="o-1")) == []
        assert RoleThread.find(id="no-such-thread") == []
        with pytest.raises(TypeError, match="version"):
            RoleThread.find(version="v")

    def test_find_pages_through_many_threads(self) -> None:
        made = [RoleThread(owner_id="many") for _ in range(105)]
        assert [t.id for t in RoleThread.find(owner_id="many")] == [t.id for t in made]


class TestConversions:
    def test_v1_round_trip(self) -> None:
        thread = RoleThread(owner_id="o", public=True, name="n", metadata={"a": 1})
        thread.add_role(ADA)
        thread.post("user", "hi", images=["https://x.test/a.png"], metadata={"m": 1})
        thread.post("assistant", "psst", private=True)
        v1 = thread.to_v1()
        assert isinstance(v1, V1RoleThread)
        assert v1.id == thread.id
        assert (v1.owner_id, v1.public, v1.name, v1.metadata) == ("o", True, "n", {"a": 1})
        assert v1.role_mapping == {"assistant": ADA}
        assert v1.version == thread.version
        assert [m.text for m in v1.messages] == ["hi", "psst"]
        assert v1.messages[1].private is True
        assert v1.messages[0].metadata == {"m": 1}
        assert RoleThread.from_v1(v1).to_v1() == v1
        assert RoleThread.find(id=thread.id)[0].to_v1() == v1

    def test_from_v1_is_stored_on_save(self) -> None:
        source = RoleThread(name="src", metadata={"a": 1})
        source.add_role(BOB)
        source.post("user", "one", metadata={"x": 1})
        source.post("assistant", "two", private=True)
        v1 = source.to_v1().model_copy(update={"id": "imported-1"})
        v1.messages = [m.model_copy(update={"thread_id": "imported-1"}) for m in v1.messages]
        imported = RoleThread.from_v1(v1)
        assert texts(imported.messages()) == ["one", "two"]  # held until saved
        with pytest.raises(NotFound):
            stored_thread("imported-1")
        imported.save()
        row = stored_thread("imported-1")
        assert (row["title"], row["metadata"], row["message_count"]) == ("src", {"a": 1}, 2)
        assert row["role_mapping"] == {"user": BOB.model_dump()}
        again = RoleThread.from_v1(v1)
        again.post("user", "three")  # saves first, without copying the messages twice
        stored = stored_messages("imported-1")
        assert [m["content"] for m in stored] == ["one", "two", "three"]
        assert [m["id"] for m in stored[:2]] == [m.id for m in v1.messages]
        assert [m["private"] for m in stored] == [False, True, False]

    def test_record_round_trip(self) -> None:
        thread = RoleThread(owner_id="o", public=True, name="n", metadata={"a": 1})
        thread.add_role(ADA)
        thread.post("user", "hi", images=["https://x.test/a.png"], metadata={"m": 1})
        thread.post("assistant", "psst", private=True)
        record = thread.to_record()
        assert isinstance(record, RoleThreadRecord)
        assert (record.id, record.owner_id, record.public, record.name) == (
            thread.id,
            "o",
            True,
            "n",
        )
        assert json.loads(record.meta_data or "") == {"a": 1}
        assert json.loads(record.role_mapping or "") == {"assistant": ADA.model_dump()}
        assert [m.text for m in record.messages] == ["hi", "psst"]
        assert record.version == thread.version
        assert (record.created, record.updated) == (thread.created, thread.updated)
        back = RoleThread.from_record(record)
        assert back.to_record() == record
        assert back.to_v1() == thread.to_v1()

    def test_openai(self, png_file: Path) -> None:
        data_url = "data:image/png;base64," + base64.b64encode(PNG).decode()
        thread = RoleThread.from_openai(
            [
                {"role": "system", "content": "be brief"},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "what is this?"},
                        {"type": "image_url", "image_url": {"url": "https://x.test/cat.png"}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "compare"},
                        {"type": "image_url", "image_url": {"url": data_url}},
                        {"type": "text", "text": "with"},
                        {"type": "image_url", "image_url": {"url": "https://x.test/b.png"}},
                    ],
                },
                {"role": "assistant", "content": None},
            ]
        )
        assert thread.remote is None
        messages = thread.messages()
        assert texts(messages) == ["be brief", "what is this?", "compare<image>with<image>", ""]
        assert messages[1].images == ["https://x.test/cat.png"]
        assert thread.to_openai() == [
            {"role": "system", "content": [{"type": "text", "text": "be brief"}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this?"},
                    {"type": "image_url", "image_url": {"url": "https://x.test/cat.png"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "compare"},
                    {"type": "image_url", "image_url": {"url": data_url}},
                    {"type": "text", "text": "with"},
                    {"type": "image_url", "image_url": {"url": "https://x.test/b.png"}},
                ],
            },
            {"role": "assistant", "content": []},
        ]
        thread.post("user", "a file", images=[str(png_file)])
        assert thread.to_openai()[-1]["content"][1] == {
            "type": "image_url",
            "image_url": {"url": data_url},
        }


class TestImages:
    def test_every_kind_round_trips(self, png_file: Path, tmp_path: Path) -> None:
        gif_file = tmp_path / "no-extension"
        gif_file.write_bytes(GIF)
        png_b64 = base64.b64encode(PNG).decode()
        thread = RoleThread()
        thread.post(
            "user",
            "look",
            images=[
                "https://x.test/a.png",
                "http://x.test/b.jpg",
                f"data:image/png;base64,{png_b64}",
                str(png_file),
                png_file,
                gif_file,
                png_b64,
            ],
        )
        (message,) = thread.messages()
        assert message.images == [
            "https://x.test/a.png",
            "http://x.test/b.jpg",
            f"data:image/png;base64,{png_b64}",
            f"data:image/png;base64,{png_b64}",
            f"data:image/png;base64,{png_b64}",
            f"data:image/gif;base64,{base64.b64encode(GIF).decode()}",
            f"data:image/png;base64,{png_b64}",
        ]
