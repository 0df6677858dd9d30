"""``threadloom serve`` with a language model configured, as real processes: without the
``openai`` SDK it refuses to start, in one line that says what to install; an assistant that
asks for ``openai`` on a server without it answers a 503 problem that says the same.

The SDK is taken away by an import blocker: a ``sitecustomize`` on ``PYTHONPATH`` whose
meta-path finder raises ``ModuleNotFoundError`` for ``openai``, as on a machine where it was
never installed. (With the SDK, ``/ask`` and ``/chat`` answering from the stub through a live
server is ``tests/chat/test_chat_live.py::test_the_original_session_routes_with_curl``.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import Cli, one_line_error
from tests.fixtures.servers import LiveServer, free_port

PROBLEMS = "https://threadloom.dev/problems/"
INSTALL = "pip install 'threadloom[openai]'"
BLOCKER = '''
import sys


class _NoOpenAI:
    """Finds nothing, and refuses openai: the SDK is not installed."""

    def find_spec(self, name, path=None, target=None):
        if name == "openai" or name.startswith("openai."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NoOpenAI())
'''


@pytest.fixture
def without_openai(tmp_path: Path) -> dict[str, str]:
    """The environment of a process in which ``import openai`` fails (checked here)."""
    folder = tmp_path / "no-openai"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(BLOCKER)
    path = os.pathsep.join(p for p in (str(folder), os.environ.get("PYTHONPATH")) if p)
    env = {"PYTHONPATH": path}
    probe = subprocess.run(
        [sys.executable, "-c", "import threadloom.llm, openai"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert probe.returncode == 1, probe.stderr
    assert "ModuleNotFoundError: No module named 'openai'" in probe.stderr
    return env


@pytest.mark.parametrize(
    ("llm_env", "described"),
    [
        (
            {
                "THREADLOOM_LLM_BASE_URL": "http://127.0.0.1:9/v1",
                "THREADLOOM_LLM_MODEL": "llama3.2",
                "THREADLOOM_LLM_API_KEY": "sk-test-not-sent",
            },
            "openai at 127.0.0.1:9, model llama3.2, key from THREADLOOM_LLM_API_KEY",
        ),
        ({"GROQ_API_KEY": "gsk-test-not-sent"}, "openai at api.groq.com"),
        (
            {"THREADLOOM_LLM_PROVIDER": "openai", "OPENAI_API_KEY": "sk-test-not-sent"},
            "openai at api.openai.com",
        ),
    ],
    ids=["base-url", "groq-key", "openai-provider"],
)
def test_serve_refuses_to_start_without_the_sdk_of_its_model(
    subprocess_cli: Cli,
    tmp_path: Path,
    without_openai: dict[str, str],
    llm_env: dict[str, str],
    described: str,
) -> None:
    database = tmp_path / "never-created.db"
    done = subprocess_cli(
        "serve",
        "--port",
        str(free_port()),
        database_url=f"sqlite:///{database}",
        env={"OPENAI_API_KEY": "", "GROQ_API_KEY": "", **without_openai, **llm_env},
        columns=None,
    )
    line = one_line_error(done)
    assert f"the language model is {described}" in line
    assert f"but the openai package is missing: {INSTALL}" in line
    assert "THREADLOOM_LLM_PROVIDER=offline" in line
    assert "not-sent" not in done.stderr + done.stdout
    assert not database.exists()  # it stopped before touching the database


def test_serve_names_a_misconfigured_model_in_one_line(subprocess_cli: Cli, tmp_path: Path) -> None:
    database = tmp_path / "never-created.db"
    done = subprocess_cli(
        "serve",
        "--port",
        str(free_port()),
        database_url=f"sqlite:///{database}",
        env={"THREADLOOM_LLM_BASE_URL": "http://127.0.0.1:9/v1"},
        columns=None,
    )
    line = one_line_error(done)
    assert "the language model is misconfigured: no default model for" in line
    assert not database.exists()


@pytest.mark.server
def test_an_openai_assistant_on_a_server_without_the_sdk_is_a_clear_503(
    live_servers: Callable[..., LiveServer], sqlite_url: str, without_openai: dict[str, str]
) -> None:
    server = live_servers(sqlite_url, env={**without_openai, "THREADLOOM_LLM_PROVIDER": "offline"})
    with httpx.Client(base_url=server.url, timeout=30) as http:
        created = http.post(
            "/v1/spaces/default/assistants",
            json={"name": "remote", "provider": "openai", "model": "gpt-test"},
        )
        assert created.status_code == 201, created.text
        assistant = created.json()["id"]
        thread = http.post("/v1/spaces/default/threads", json={}).json()["id"]
        chat = f"/v1/spaces/default/threads/{thread}/chat"
        for stream in (False, True):
            body = {"content": "hello", "assistant": assistant, "stream": stream}
            refused = http.post(chat, json=body)
            assert refused.status_code == 503, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
            problem = refused.json()
            assert problem["type"] == PROBLEMS + "service-unavailable"
            detail = problem["detail"]
            assert "uses the openai provider, which this server has not configured" in detail
            assert f"the openai package is missing: {INSTALL}" in detail
        # Nothing was stored, and the server's own (offline) assistant still answers.
        listed = http.get(f"/v1/spaces/default/threads/{thread}/messages").json()
        assert listed["data"] == []
        answered = http.post(chat, json={"content": "hello"})
        assert answered.status_code == 201, answered.text
        assert answered.json()["metadata"]["provider"] == "offline"
    assert "Traceback" not in server.log()
