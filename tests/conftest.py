"""The suite's shared fixtures live in ``tests/fixtures/``; this file loads them."""

from __future__ import annotations

import pytest

pytest_plugins = [
    "tests.fixtures.environment",
    "tests.fixtures.databases",
    "tests.fixtures.app",
    "tests.fixtures.servers",
]


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"
