"""``threadloom messages`` and ``threadloom state`` on a local SQLite database, in process."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import Cli, json_lines, ok, one_line_error


@pytest.fixture
def thread(local: Cli) -> str:
    ok(local("threads", "create", "--id", "t1", "--state", '{"step": 1}'))
    return "t1"


class TestMessages:
    def test_add_and_list(self, local: Cli, thread: str) -> None:
        first = json.loads(ok(local("messages", "add", thread, "Hi!", "--json")).stdout)
        assert (first["seq"], first["role"], first["content"]) == (1, "user", "Hi!")
        done = ok(
            local(
                "messages",
                "add",
                thread,
                "What is this?",
                "--role",
                "assistant",
                "--private",
                "--metadata",
                '{"lang": "en"}',
                "--image",
                "https://example.com/a.png",
                "--image",
                "data:image/png;base64,AAAA",
                "--id",
                "m-2",
            )
        )
        assert "m-2" in done.stdout
        assert "seq 2" in done.stdout

        public = json.loads(ok(local("messages", "ls", thread, "--json")).stdout)
        assert [m["id"] for m in public["data"]] == [first["id"]]
        everything = json.loads(
            ok(local("messages", "ls", thread, "--include-private", "--json")).stdout
        )
        second = everything["data"][1]
        assert second["id"] == "m-2"
        assert second["private"] is True
        assert second["metadata"] == {"lang": "en"}
        assert second["images"] == ["https://example.com/a.png", "data:image/png;base64,AAAA"]

        table = ok(local("messages", "ls", thread, "--include-private")).stdout
        assert "What is this?" in table
        assert "m-2" in table
        assert "assistant" in table

    def test_tool_calls_and_their_results(self, local: Cli, thread: str) -> None:
        calls = '[{"id": "call_1", "function": {"name": "weather", "arguments": "{}"}}]'
        ok(local("messages", "add", thread, "", "--role", "assistant", "--tool-calls", calls))
        args = ("--role", "tool", "--tool-call-id", "call_1", "--name", "weather")
        ok(local("messages", "add", thread, "sunny", *args))
        stored = json.loads(ok(local("messages", "ls", thread, "--json")).stdout)["data"]
        assert stored[0]["tool_calls"][0]["function"]["name"] == "weather"
        assert (stored[1]["tool_call_id"], stored[1]["name"]) == ("call_1", "weather")
        table = ok(local("messages", "ls", thread)).stdout
        assert "→ weather({})" in table  # a call is shown, not an empty bubble
        assert "← call_1 sunny" in table

    def test_content_from_stdin(self, local: Cli, thread: str) -> None:
        text = "line one\nline two\n"
        added = json.loads(ok(local("messages", "add", thread, "-", "--json", input=text)).stdout)
        assert added["content"] == text

    def test_an_empty_stdin_is_a_usage_error(self, local: Cli, thread: str) -> None:
        assert "stdin" in one_line_error(local("messages", "add", thread, "-", input=""), 2)

    def test_filters_order_and_paging(self, local: Cli, thread: str) -> None:
        for index in range(5):
            role = "assistant" if index % 2 else "user"
            ok(local("messages", "add", thread, f"m{index}", "--role", role))
        newest = json.loads(
            ok(local("messages", "ls", thread, "--order", "desc", "--limit", "2", "--json")).stdout
        )
        assert [m["content"] for m in newest["data"]] == ["m4", "m3"]
        assert newest["has_more"] is True
        users = json.loads(ok(local("messages", "ls", thread, "--role", "user", "--json")).stdout)
        assert [m["content"] for m in users["data"]] == ["m0", "m2", "m4"]
        every = json_lines(
            ok(local("messages", "ls", thread, "--all", "--limit", "2", "--json")).stdout
        )
        assert [m["seq"] for m in every] == [1, 2, 3, 4, 5]

    @pytest.mark.parametrize(
        ("args", "code", "text"),
        [
            (("messages", "add", "missing", "hi"), 1, "'missing'"),
            (("messages", "ls", "missing"), 1, "'missing'"),
            (("messages", "add", "t1", "hi", "--image", "ftp://x/a.png"), 2, "images"),
            (("messages", "add", "t1", "hi", "--metadata", "nope"), 2, "--metadata"),
            (("messages", "add", "t1"), 2, "Missing argument"),
            (("messages", "ls", "t1", "--order", "sideways"), 2, "--order"),
            (("messages", "add", "t1", "x", "--tool-calls", "{}"), 2, "--tool-calls"),
            (
                ("messages", "add", "t1", "x", "--tool-calls", "[{}]", "--role", "assistant"),
                2,
                "tool_calls.0.id",
            ),
            (("messages", "add", "t1", "x", "--tool-call-id", "c1"), 2, "tool_call_id"),
        ],
    )
    def test_errors(
        self, local: Cli, thread: str, args: tuple[str, ...], code: int, text: str
    ) -> None:
        assert thread == "t1"
        assert text in one_line_error(local(*args), code)


class TestState:
    def test_get(self, local: Cli, thread: str) -> None:
        done = ok(local("state", "get", thread))
        assert json.loads(done.stdout) == {"step": 1}  # stdout is the state alone
        assert "version 1" in done.stderr
        document = json.loads(ok(local("state", "get", thread, "--json")).stdout)
        assert (document["state"], document["version"]) == ({"step": 1}, 1)

    def test_set_and_patch(self, local: Cli, thread: str) -> None:
        done = ok(local("state", "set", thread, '{"step": 2, "draft": "x"}'))
        assert "version 2" in done.stdout
        patched = json.loads(
            ok(local("state", "patch", thread, '{"draft": null, "done": true}', "--json")).stdout
        )
        assert patched["state"] == {"step": 2, "done": True}
        assert patched["version"] == 3

    def test_json_from_stdin(self, local: Cli, thread: str) -> None:
        ok(local("state", "set", thread, "-", input='["a", "b"]'))
        assert json.loads(ok(local("state", "get", thread)).stdout) == ["a", "b"]

    def test_if_match(self, local: Cli, thread: str) -> None:
        ok(local("state", "set", thread, '{"step": 2}', "--if-match", "1"))
        stale = one_line_error(local("state", "set", thread, '{"step": 3}', "--if-match", "1"))
        assert "version 2" in stale
        stale = one_line_error(local("state", "patch", thread, '{"step": 3}', "--if-match", "1"))
        assert "version 2" in stale
        assert json.loads(ok(local("state", "get", thread)).stdout) == {"step": 2}
        ok(local("state", "patch", thread, '{"step": 3}', "--if-match", "2"))
        assert json.loads(ok(local("state", "get", thread)).stdout) == {"step": 3}

    @pytest.mark.parametrize(
        ("args", "code", "text"),
        [
            (("state", "get", "missing"), 1, "'missing'"),
            (("state", "set", "t1", "{not json"), 2, "JSON"),
            (("state", "set", "t1", "1", "--if-match", "-1"), 2, "--if-match"),
            (("state", "patch", "t1"), 2, "JSON"),
        ],
    )
    def test_errors(
        self, local: Cli, thread: str, args: tuple[str, ...], code: int, text: str
    ) -> None:
        assert thread == "t1"
        assert text in one_line_error(local(*args), code)
