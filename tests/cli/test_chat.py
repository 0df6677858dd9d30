"""``threadloom chat``: in process on a SQLite database (the offline provider answers), and
as a real process driven through its stdin, on the database and against a live server."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import Cli, Outcome, ok, one_line_error
from tests.fixtures.servers import LiveServer, default_sigint
from tests.llm.stub_openai import StubOpenAI
from threadloom import Client
from threadloom.cli.last_session import recall, remember, state_file

SESSION = re.compile(r"session (\S+) \((new|continued, \d+ messages)\)")
Chat = Callable[..., Outcome]


def offline(text: str) -> str:
    return f'offline assistant: you said "{text}"'


def session_of(done: Outcome) -> tuple[str, str]:
    """The session a run was on, and whether it was new or continued."""
    found = SESSION.search(done.stderr)
    assert found, done.stderr
    return found[1], found[2]


@pytest.fixture
def chat(local: Cli, tmp_path: Path) -> Chat:
    """``threadloom chat ARGS`` in process, with its state file under the test's folder."""
    state = {"THREADLOOM_STATE_DIR": str(tmp_path / "state")}

    def run(*args: str, input: str | None = None) -> Outcome:
        return local("chat", *args, env=state, input=input)

    return run


class TestOneMessage:
    def test_prints_the_streamed_reply_and_a_footer(self, chat: Chat) -> None:
        done = ok(chat("--message", "hi there"))
        assert done.stdout.strip().startswith(offline("hi there"))
        assert session_of(done)[1] == "new"
        footer = r"^default · offline · \d+ tokens \(\d+ in, \d+ out\) · \d+ ms$"
        assert re.search(footer, done.stderr, re.MULTILINE), done.stderr

    def test_json_prints_the_stored_reply(self, chat: Chat, local: Cli) -> None:
        reply = json.loads(ok(chat("--message", "as json", "--json")).stdout)
        assert reply["role"] == "assistant"
        assert reply["content"].startswith(offline("as json"))
        assert reply["metadata"]["provider"] == "offline"
        assert reply["metadata"]["incomplete"] is False
        stored = json.loads(ok(local("messages", "ls", reply["thread_id"], "--json")).stdout)
        assert [m["role"] for m in stored["data"]] == ["user", "assistant"]

    def test_the_message_from_stdin(self, chat: Chat) -> None:
        done = ok(chat("--message", "-", input="two\nlines"))
        assert offline("two lines") in done.stdout  # one message, quoted on one line

    def test_a_line_piped_in_is_one_question(self, chat: Chat) -> None:
        done = ok(chat(input="What is 2 + 2?\n"))
        assert done.stdout.strip().startswith(offline("What is 2 + 2?"))
        assert done.stdout.count("offline assistant") == 1

    def test_an_unknown_assistant_is_one_line(self, chat: Chat) -> None:
        done = chat("--assistant", "nobody", "--message", "hi")
        assert done.code == 1
        assert done.clean_failure
        errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
        assert errors == ["error: there is no assistant 'nobody' in space 'default'"]
        assert done.stdout == ""


class TestConversation:
    def test_history_new_and_the_session_kept_across_runs(self, chat: Chat) -> None:
        done = ok(chat(input="hello\n/history\n/new\nsecond\n/quit\nnever sent\n"))
        first, how = session_of(done)
        assert how == "new"
        lines = done.stdout.splitlines()
        assert lines[0].startswith(offline("hello"))
        assert lines[1] == "user: hello"
        assert lines[2].startswith("assistant: " + offline("hello"))
        assert lines[3].startswith(offline("second"))
        assert "never sent" not in done.stdout
        second = re.search(r"new session (\S+)", done.stderr)
        assert second is not None
        assert second[1] != first

        again = ok(chat("--message", "third"))
        assert session_of(again) == (second[1], "continued, 2 messages")
        history = ok(chat(input="/history\n")).stdout
        assert "user: second" in history
        assert "user: third" in history
        assert "hello" not in history

    def test_a_session_is_created_on_first_use_then_continued(self, chat: Chat) -> None:
        assert session_of(ok(chat("--session", "s-1", "-m", "one"))) == ("s-1", "new")
        assert session_of(ok(chat("--session", "s-1", "-m", "two"))) == (
            "s-1",
            "continued, 2 messages",
        )
        assert session_of(ok(chat("-m", "three"))) == ("s-1", "continued, 4 messages")

    def test_errors_are_one_line_and_the_chat_goes_on(self, chat: Chat) -> None:
        done = chat(input="/assistant nobody\n/bogus\n/assistant\nstill here\n")
        assert done.code == 1  # a pipe with a failed line exits 1 at its end
        assert done.clean_failure
        errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
        assert errors == [
            "error: there is no assistant 'nobody' in space 'default'",
            "error: unknown command /bogus: /help lists them",
        ]
        assert "the built-in default answers" in done.stderr
        assert done.stdout.strip().startswith(offline("still here"))

    def test_help_and_a_message_that_starts_with_a_slash(self, chat: Chat) -> None:
        done = ok(chat(input="/help\n//etc/hosts\n"))
        assert "/assistant [NAME]" in done.stderr
        assert offline("/etc/hosts") in done.stdout

    @pytest.mark.redis
    def test_on_a_store_with_its_own_event_loop(
        self, local: Cli, redis_url: str, tmp_path: Path
    ) -> None:
        state = {"THREADLOOM_STATE_DIR": str(tmp_path / "state")}
        first = ok(local("chat", "-m", "on redis", database_url=redis_url, env=state))
        assert first.stdout.startswith(offline("on redis"))
        again = ok(local("chat", input="again\n/history\n", database_url=redis_url, env=state))
        assert session_of(again) == (session_of(first)[0], "continued, 2 messages")
        assert "user: on redis" in again.stdout
        assert "user: again" in again.stdout


class TestLastSession:
    def test_kept_per_server_and_space_without_passwords(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("THREADLOOM_STATE_DIR", raising=False)
        monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
        assert state_file() == tmp_path / "xdg" / "threadloom" / "sessions.json"
        remember("postgresql://ann:s3cret@db/tl", "default", "ses_1")
        remember("http://127.0.0.1:8000", "default", "ses_2")
        assert recall("postgresql://ann:s3cret@db/tl", "default") == "ses_1"
        assert recall("http://127.0.0.1:8000", "default") == "ses_2"
        assert recall("http://127.0.0.1:8000", "other") is None
        assert "s3cret" not in state_file().read_text()

    def test_an_unreadable_file_starts_afresh(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("THREADLOOM_STATE_DIR", str(tmp_path))
        state_file().write_text("not json")
        assert recall("sqlite:///x.db", "default") is None
        remember("sqlite:///x.db", "default", "ses_3")
        assert recall("sqlite:///x.db", "default") == "ses_3"


# As a real process, driven through its stdin ---------------------------------------------


class Driven:
    """``python -m threadloom chat ARGS`` with pipes for stdin, stdout and stderr. ``expect``
    waits for text on an output (not necessarily a whole line: replies stream)."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("THREADLOOM_")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "threadloom", "chat", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**clean, "COLUMNS": "200", **env},
            cwd=cwd,
            preexec_fn=default_sigint,  # one signal call between fork and exec
        )
        self.seen = {"stdout": "", "stderr": ""}
        self.read_to = {"stdout": 0, "stderr": 0}
        self.changed = threading.Condition()
        self.pumps = [
            threading.Thread(target=self._pump, args=(name,), daemon=True) for name in self.seen
        ]
        for pump in self.pumps:
            pump.start()

    def _pump(self, name: str) -> None:
        stream = getattr(self.process, name)
        while chunk := os.read(stream.fileno(), 4096):
            with self.changed:
                self.seen[name] += chunk.decode(errors="replace")
                self.changed.notify_all()

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()

    def expect(self, text: str, stream: str = "stdout", timeout: float = 30) -> str:
        """What the stream printed up to and including ``text`` since the last expect."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while (at := self.seen[stream].find(text, self.read_to[stream])) < 0:
                left = deadline - time.monotonic()
                assert left > 0, f"{text!r} never came on {stream}: {self.seen}"
                self.changed.wait(left)
            start, self.read_to[stream] = self.read_to[stream], at + len(text)
            return self.seen[stream][start : at + len(text)]

    def finish(self) -> int:
        assert self.process.stdin is not None
        self.process.stdin.close()
        return self.process.wait(timeout=30)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for pump in self.pumps:
            pump.join(timeout=10)
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def drive(tmp_path: Path) -> Iterator[Callable[..., Driven]]:
    started: list[Driven] = []
    cwd = tmp_path / "cwd-chat"
    cwd.mkdir()

    def start(*args: str, env: dict[str, str]) -> Driven:
        state = {"THREADLOOM_STATE_DIR": str(tmp_path / "state")}
        started.append(Driven(list(args), {**state, **env}, cwd))
        return started[-1]

    yield start
    for driven in started:
        driven.close()


def stub_llm(stub: StubOpenAI, model: str) -> dict[str, str]:
    return {
        "THREADLOOM_LLM_PROVIDER": "openai",
        "THREADLOOM_LLM_BASE_URL": stub.base_url,
        "THREADLOOM_LLM_MODEL": model,
        "THREADLOOM_LLM_API_KEY": "sk-test",
    }


def test_ctrl_c_stops_a_local_reply_and_keeps_it(
    drive: Callable[..., Driven], sqlite_url: str
) -> None:
    with StubOpenAI(stall_seconds=30) as stub:
        env = {"THREADLOOM_DATABASE_URL": sqlite_url, **stub_llm(stub, "stub-stall-mid")}
        chat = drive("--session", "stalled", env=env)
        chat.send("tell me everything")
        chat.expect("Hello")  # the first word, then the model stalls
        chat.process.send_signal(signal.SIGINT)
        chat.expect("stopped: what the assistant wrote is kept", "stderr")
        chat.send("/history")
        chat.expect("user: tell me everything")
        assert chat.expect("[incomplete]").strip() == "assistant: Hello [incomplete]"
        assert chat.finish() == 0


@pytest.mark.server
class TestAgainstAServer:
    @pytest.fixture
    def server(
        self, subprocess_cli: Cli, sqlite_url: str, live_servers: Callable[..., LiveServer]
    ) -> tuple[LiveServer, str]:
        """A live server that needs an API key (offline provider); its admin key."""
        created = ok(subprocess_cli("keys", "create", "--admin", "--database-url", sqlite_url))
        admin = created.stdout.splitlines()[-1]
        return live_servers(sqlite_url, env={"THREADLOOM_KEY_CACHE_SECONDS": "0"}), admin

    def test_a_conversation_through_the_prompt(
        self, drive: Callable[..., Driven], server: tuple[LiveServer, str]
    ) -> None:
        live, admin = server
        with Client(live.url, api_key=admin) as client:
            ada = client.assistants.create("default", "Ada", provider="offline")
        env = {"THREADLOOM_URL": live.url, "THREADLOOM_API_KEY": admin}
        chat = drive(env=env)
        session = re.search(r"session (\S+) \(new\)", chat.expect("in space default", "stderr"))
        assert session is not None
        chat.send("hello")
        assert chat.expect("\n").strip().startswith(offline("hello"))
        chat.expect("default · offline", "stderr")
        chat.send("/assistant ada")
        chat.expect(f"assistant: Ada ({ada.id})", "stderr")
        chat.send("who are you?")
        assert chat.expect("\n").strip().startswith(offline("who are you?"))
        chat.expect(f"{ada.id} · offline", "stderr")
        chat.send("/quit")
        assert chat.finish() == 0

        with Client(live.url, api_key=admin) as client:
            messages = client.messages.list("default", session[1]).data
        replies = [m for m in messages if m.role == "assistant"]
        assert [m.metadata["assistant"] for m in replies] == ["default", ada.id]

        # The next run continues the same session.
        again = drive("--message", "once more", env=env)
        assert again.finish() == 0
        assert f"session {session[1]} (continued, 4 messages)" in again.seen["stderr"]

    def test_a_bad_api_key_is_one_line(
        self, subprocess_cli: Cli, server: tuple[LiveServer, str], tmp_path: Path
    ) -> None:
        live, _ = server
        bad = {
            "THREADLOOM_URL": live.url,
            "THREADLOOM_API_KEY": "tl_" + "x" * 43,
            "THREADLOOM_STATE_DIR": str(tmp_path / "state"),
        }
        for args, stdin in ((("--message", "hi"), None), ((), "hi\n")):
            done = subprocess_cli("chat", *args, env=bad, input=stdin)
            assert "unknown or revoked" in one_line_error(done)
            assert done.stdout == ""


@pytest.mark.server
def test_ctrl_c_stops_a_reply_on_a_server(
    drive: Callable[..., Driven], sqlite_url: str, live_servers: Callable[..., LiveServer]
) -> None:
    with StubOpenAI(stall_seconds=30) as stub:
        live = live_servers(sqlite_url, env=stub_llm(stub, "stub-stall-mid"))
        chat = drive("--session", "stalled", env={"THREADLOOM_URL": live.url})
        chat.send("tell me everything")
        chat.expect("Hello")
        chat.process.send_signal(signal.SIGINT)
        chat.expect("stopped: what the assistant wrote is kept", "stderr")
        chat.send("/quit")
        assert chat.finish() == 0
        with Client(live.url) as client:  # the server stores the partial reply when it sees
            deadline = time.monotonic() + 20  # the client go away
            while True:
                messages = client.messages.list("default", "stalled").data
                if len(messages) == 2 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[1].content.startswith("Hello")
    assert messages[1].metadata["incomplete"] is True
