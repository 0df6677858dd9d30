"""``threadloom spaces`` and ``threadloom threads`` on a local SQLite database, in process."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import Cli, json_lines, ok, one_line_error


def _create(local: Cli, thread_id: str, *args: str) -> dict[str, object]:
    created: dict[str, object] = json.loads(
        ok(local("threads", "create", "--id", thread_id, *args, "--json")).stdout
    )
    return created


def _ids(local: Cli, *args: str) -> list[str]:
    page = json.loads(ok(local("threads", "ls", *args, "--json")).stdout)
    assert page["object"] == "list"
    return [thread["id"] for thread in page["data"]]


class TestSpaces:
    def test_create_list_and_remove(self, local: Cli) -> None:
        done = ok(local("spaces", "create", "acme", "--name", "ACME", "--metadata", '{"a": 1}'))
        assert "acme" in done.stdout
        listed = json.loads(ok(local("spaces", "ls", "--json")).stdout)
        spaces = {space["id"]: space for space in listed["data"]}
        assert set(spaces) == {"acme", "default"}
        assert spaces["acme"]["name"] == "ACME"
        assert spaces["acme"]["metadata"] == {"a": 1}
        table = ok(local("spaces", "ls")).stdout
        assert "acme" in table
        assert "ACME" in table

        ok(local("threads", "create", "--space", "acme", "--id", "t1"))
        refused = one_line_error(local("spaces", "rm", "acme"))
        assert "acme" in refused
        ok(local("spaces", "rm", "acme", "--force"))
        assert [s["id"] for s in json.loads(local("spaces", "ls", "--json").stdout)["data"]] == [
            "default"
        ]

    def test_create_with_a_generated_id(self, local: Cli) -> None:
        space = json.loads(ok(local("spaces", "create", "--json")).stdout)
        assert space["id"].startswith("spc_")

    def test_ls_all_pages_as_json_lines(self, local: Cli) -> None:
        for name in ("s1", "s2", "s3"):
            ok(local("spaces", "create", name))
        lines = json_lines(ok(local("spaces", "ls", "--all", "--limit", "1", "--json")).stdout)
        assert [space["id"] for space in lines] == ["default", "s1", "s2", "s3"]

    def test_the_default_space_stays(self, local: Cli) -> None:
        assert "default" in one_line_error(local("spaces", "rm", "default"))


class TestThreads:
    def test_create_and_show(self, local: Cli) -> None:
        created = _create(
            local,
            "support-42",
            "--title",
            "Support chat",
            "--owner",
            "u-1",
            "--public",
            "--metadata",
            '{"customer": "c-42"}',
            "--state",
            '{"step": 1}',
        )
        assert created["title"] == "Support chat"
        assert created["public"] is True
        shown = json.loads(ok(local("threads", "show", "support-42", "--json")).stdout)
        assert shown == created
        assert shown["state"] == {"step": 1}
        assert shown["metadata"] == {"customer": "c-42"}

        table = ok(local("threads", "show", "support-42")).stdout
        for text in ("support-42", "Support chat", "u-1", "c-42", '"step": 1'):
            assert text in table

    def test_create_takes_the_id_as_an_argument(self, local: Cli) -> None:
        done = ok(local("threads", "create", "support-42", "--title", "Support chat"))
        assert "support-42" in done.stdout
        shown = json.loads(ok(local("threads", "show", "support-42", "--json")).stdout)
        assert (shown["id"], shown["title"]) == ("support-42", "Support chat")
        # --id still works, and saying the same id both ways is fine.
        by_option = json.loads(ok(local("threads", "create", "--id", "t-2", "--json")).stdout)
        both = json.loads(ok(local("threads", "create", "t-3", "--id", "t-3", "--json")).stdout)
        assert (by_option["id"], both["id"]) == ("t-2", "t-3")
        generated = json.loads(ok(local("threads", "create", "--json")).stdout)
        assert str(generated["id"]).startswith("thr_")

    def test_two_different_ids_are_a_usage_error(self, local: Cli) -> None:
        error = one_line_error(local("threads", "create", "one", "--id", "two"), code=2)
        assert "'one'" in error
        assert "'two'" in error
        assert "differ" in error
        assert _ids(local) == []

    def test_an_invalid_argument_id_is_a_usage_error(self, local: Cli) -> None:
        error = one_line_error(local("threads", "create", "has space"), code=2)
        assert error.startswith("error: id:")
        assert _ids(local) == []

    def test_ls_filters(self, local: Cli) -> None:
        _create(
            local, "a", "--title", "Billing question", "--owner", "u-1", "--metadata", '{"k": "x"}'
        )
        _create(
            local,
            "b",
            "--title",
            "Shipping",
            "--owner",
            "u-2",
            "--public",
            "--metadata",
            '{"k": 2}',
        )
        _create(local, "c", "--title", "Billing again", "--owner", "u-1")
        ok(local("threads", "archive", "c"))

        assert sorted(_ids(local)) == ["a", "b"]
        assert sorted(_ids(local, "--status", "all")) == ["a", "b", "c"]
        assert _ids(local, "--status", "archived") == ["c"]
        assert _ids(local, "--owner", "u-2") == ["b"]
        assert _ids(local, "--title", "Shipping") == ["b"]
        assert _ids(local, "--public") == ["b"]
        assert _ids(local, "--no-public") == ["a"]
        assert _ids(local, "--metadata", "k=x") == ["a"]
        assert _ids(local, "--metadata", "k=2") == ["b"]
        assert _ids(local, "--metadata", "k=2", "--metadata", "k2=2") == []
        assert sorted(_ids(local, "--q", "billing", "--status", "all")) == ["a", "c"]
        assert _ids(local, "--order-by", "created_at", "--order", "asc") == ["a", "b"]
        assert _ids(local, "--order-by", "created_at", "--order", "desc") == ["b", "a"]

    def test_paging(self, local: Cli) -> None:
        for index in range(5):
            _create(local, f"t{index}")
        args = ("--order-by", "created_at", "--order", "asc", "--limit", "2")
        page = json.loads(ok(local("threads", "ls", *args, "--json")).stdout)
        assert [t["id"] for t in page["data"]] == ["t0", "t1"]
        assert page["has_more"] is True
        following = json.loads(
            ok(local("threads", "ls", *args, "--after", page["last_id"], "--json")).stdout
        )
        assert [t["id"] for t in following["data"]] == ["t2", "t3"]

        every = json_lines(ok(local("threads", "ls", *args, "--all", "--json")).stdout)
        assert [thread["id"] for thread in every] == [f"t{index}" for index in range(5)]

        table = ok(local("threads", "ls", *args))
        assert "t0" in table.stdout
        assert "t2" not in table.stdout
        assert "--all" in table.stderr
        whole = ok(local("threads", "ls", *args, "--all")).stdout
        assert all(f"t{index}" in whole for index in range(5))

    def test_archive_restore_purge(self, local: Cli) -> None:
        _create(local, "t1")
        assert "archived t1" in ok(local("threads", "archive", "t1")).stdout
        refused = one_line_error(local("messages", "add", "t1", "hello"))
        assert "archived" in refused
        restored = json.loads(ok(local("threads", "restore", "t1", "--json")).stdout)
        assert restored["status"] == "active"
        ok(local("messages", "add", "t1", "hello"))
        assert "purged t1" in ok(local("threads", "purge", "t1")).stdout
        assert "'t1'" in one_line_error(local("threads", "show", "t1"))

    def test_space_from_the_environment(self, local: Cli) -> None:
        ok(local("spaces", "create", "acme"))
        ok(local("threads", "create", "--id", "t1", env={"THREADLOOM_SPACE": "acme"}))
        assert _ids(local, "--space", "acme") == ["t1"]
        assert _ids(local) == []


class TestErrors:
    @pytest.mark.parametrize(
        ("args", "code", "text"),
        [
            (("threads", "show", "missing"), 1, "'missing' does not exist"),
            (("threads", "purge", "missing"), 1, "'missing' does not exist"),
            (("threads", "create", "--space", "nowhere"), 1, "'nowhere'"),
            (("threads", "create", "--metadata", "{nope"), 2, "--metadata"),
            (("threads", "create", "--metadata", "[1, 2]"), 2, "JSON object"),
            (("threads", "create", "--state", "{"), 2, "--state"),
            (("threads", "create", "--id", "has space"), 2, "id"),
            (("threads", "ls", "--metadata", "novalue"), 2, "KEY=VALUE"),
            (("threads", "ls", "--metadata", "k=1", "--metadata", "k=2"), 2, "twice"),
            (("threads", "ls", "--limit", "0"), 2, "--limit"),
            (("threads", "ls", "--status", "gone"), 2, "--status"),
            (("threads", "ls", "--after", "not-a-cursor"), 1, "after"),
            (("threads", "ls", "--bogus"), 2, "--bogus"),
            (("threads", "frobnicate"), 2, "frobnicate"),
        ],
    )
    def test_one_line_and_the_exit_status(
        self, local: Cli, args: tuple[str, ...], code: int, text: str
    ) -> None:
        assert text in one_line_error(local(*args), code)

    def test_usage_errors_point_to_the_help(self, local: Cli) -> None:
        line = one_line_error(local("threads", "ls", "--bogus"), 2)
        assert "threadloom threads ls --help" in line

    def test_a_duplicate_id(self, local: Cli) -> None:
        _create(local, "t1")
        assert "already exists" in one_line_error(local("threads", "create", "--id", "t1"))
