"""The adapter is imported explicitly: ``import threadloom`` never pulls in LangChain, and the
adapter pulls in no server dependency until local mode is used."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """\
import json, sys
import {module}
print(json.dumps(sorted(sys.modules)))
"""
SERVER_MODULES = ("fastapi", "starlette", "sqlalchemy", "alembic", "asyncpg", "uvicorn")


def modules_after_import(module: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return set(loaded)


def under(loaded: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(
        name for name in loaded if any(name == p or name.startswith(p + ".") for p in packages)
    )


def test_import_threadloom_pulls_in_no_langchain() -> None:
    loaded = modules_after_import("threadloom")
    assert under(loaded, ("langchain_core", "langchain", "threadloom.integrations")) == []


def test_the_adapter_pulls_in_no_server_module() -> None:
    loaded = modules_after_import("threadloom.integrations.langchain")
    assert "langchain_core.chat_history" in loaded
    assert under(loaded, (*SERVER_MODULES, "threadloom.server", "threadloom.local")) == []


def test_the_conversions_still_import_from_the_adapter() -> None:
    """They moved to a private module of their own; the adapter's names for them stay."""
    from threadloom.integrations import _langchain_messages as conversions
    from threadloom.integrations import langchain as adapter

    assert adapter.METADATA_KEY == conversions.METADATA_KEY == "langchain"
    assert adapter._to_stored is conversions.to_stored
    assert adapter._from_stored is conversions.from_stored
    for name in (
        "ImagePath",
        "_KINDS",
        "_ROLES",
        "_ROLE_CHARS",
        "_by_role",
        "_image_url_path",
        "_is_url",
        "_restored",
        "_role_of",
        "_split_blocks",
        "_swap",
    ):
        assert getattr(adapter, name) is getattr(conversions, name), name
